"""The site limits a build's processes get (pws.scopes): busctl's property arguments, and
which runs are confined."""
from __future__ import annotations

from pws import scopes


def test_the_limits_become_systemd_s_own_units():
    assert scopes.properties({"MemoryMax": "256M", "CPUQuota": "50%", "TasksMax": "64"}) == [
        "MemoryMax", "t", str(256 << 20), "CPUQuotaPerSecUSec", "t", "500000",
        "TasksMax", "t", "64"]
    assert scopes.properties({"MemoryMax": "2G"}) == ["MemoryMax", "t", str(2 << 30)]
    assert scopes.properties({}) == []


def test_only_the_named_user_s_runs_are_confined_and_only_while_it_lasts(monkeypatch):
    monkeypatch.setattr(scopes, "_systemd", lambda: True)
    assert scopes.wanted("pws-a") == {}
    with scopes.confined("pws-a", {"TasksMax": "64"}):
        assert scopes.wanted("pws-a") == {"TasksMax": "64"}
        assert scopes.wanted("pws-b") == {}
    assert scopes.wanted("pws-a") == {}


def test_no_limits_or_no_systemd_confines_nothing(monkeypatch):
    with scopes.confined("pws-a", {}):
        assert scopes.wanted("pws-a") == {}
    monkeypatch.setattr(scopes, "_systemd", lambda: False)
    with scopes.confined("pws-a", {"TasksMax": "64"}):
        assert scopes.wanted("pws-a") == {}
