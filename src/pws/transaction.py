"""All-or-nothing changes: each step registers how to undo itself before it acts."""
from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable

from .errors import PwsError


# A second Ctrl-C or SIGTERM must not cut the undo short: these wait until it is done.
DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Transaction:
    def __init__(self) -> None:
        self._undo: list[tuple[str, Callable[[], object]]] = []
        self.failed_undos: list[str] = []

    def on_rollback(self, what: str, undo: Callable[[], object]) -> None:
        self._undo.append((what, undo))

    def rollback(self) -> None:
        main = threading.current_thread() is threading.main_thread()
        saved = {sig: signal.signal(sig, signal.SIG_IGN) for sig in DEFERRED_SIGNALS} if main else {}
        try:
            while self._undo:
                what, undo = self._undo.pop()
                try:
                    undo()
                except (PwsError, OSError) as exc:
                    self.failed_undos.append(what)
                    print(f"warning: could not undo {what}: {exc}", file=sys.stderr)
        finally:
            for sig, handler in saved.items():
                signal.signal(sig, handler)

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            if self._undo:
                print("Undoing what this run created…", file=sys.stderr, flush=True)
            self.rollback()
        return False
