"""All-or-nothing changes: each step registers how to undo itself before it acts."""
from __future__ import annotations

import sys
from collections.abc import Callable

from .errors import PwsError


class Transaction:
    def __init__(self) -> None:
        self._undo: list[tuple[str, Callable[[], object]]] = []

    def on_rollback(self, what: str, undo: Callable[[], object]) -> None:
        self._undo.append((what, undo))

    def rollback(self) -> None:
        while self._undo:
            what, undo = self._undo.pop()
            try:
                undo()
            except (PwsError, OSError) as exc:
                print(f"warning: could not undo {what}: {exc}", file=sys.stderr)

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None:
            if self._undo:
                print("Undoing what this run created…", file=sys.stderr, flush=True)
            self.rollback()
        return False
