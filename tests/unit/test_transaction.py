import pytest

from pws.errors import PwsError
from pws.transaction import Transaction


def test_failure_undoes_in_reverse_order_and_reraises():
    done = []
    with pytest.raises(PwsError):
        with Transaction() as tx:
            tx.on_rollback("first", lambda: done.append(1))
            tx.on_rollback("second", lambda: done.append(2))
            raise PwsError("pip failed")
    assert done == [2, 1]


def test_success_undoes_nothing():
    done = []
    with Transaction() as tx:
        tx.on_rollback("first", lambda: done.append(1))
    assert done == []


def test_a_failing_undo_does_not_stop_the_others(capsys):
    done = []

    def broken():
        raise OSError("disk gone")

    with pytest.raises(KeyboardInterrupt):
        with Transaction() as tx:
            tx.on_rollback("first", lambda: done.append(1))
            tx.on_rollback("broken", broken)
            raise KeyboardInterrupt
    assert done == [1]
    assert "could not undo broken" in capsys.readouterr().err
