"""Zero-downtime code reload for gunicorn: replace workers one at a time.

gunicorn's HUP stops the old workers before the new ones have imported the app, so requests
stall for the import time. Instead: TTIN (one more worker, importing the new code), wait
until it has marked itself ready (post_worker_init in the generated gunicorn config), then
TTOU (gunicorn retires its oldest worker, gracefully). Repeat for every old worker.
"""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from .. import procs
from ..errors import CommandFailed


def _wait(predicate, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def rolling_reload(master: int, ready_dir: Path, boot_timeout: float) -> int:
    """Replace every worker of master; returns how many were replaced."""
    old = procs.children(master)
    seen = set(old)
    for retiring in sorted(old):
        os.kill(master, signal.SIGTTIN)
        fresh: set[int] = set()

        def new_worker_ready() -> bool:
            fresh.update(procs.children(master) - seen)
            return any((ready_dir / f"worker-{pid}.ready").exists() for pid in fresh)

        if not _wait(lambda: new_worker_ready() or not procs.alive(master), boot_timeout):
            os.kill(master, signal.SIGTTOU)  # back to the old count; old code keeps serving
            raise CommandFailed(f"A new worker did not load the app within {boot_timeout:.0f}s.",
                                "see `pws logs NAME`; the old workers still serve.")
        if not procs.alive(master):
            return 0  # stopped meanwhile: the socket starts the new code on the next request
        seen |= fresh
        os.kill(master, signal.SIGTTOU)
        _wait(lambda: not procs.alive(retiring), boot_timeout)
    return len(old)


NEW_MASTER_SECONDS = 15


def switch_master(old: int, find_new: Callable[[], int], ready_dir: Path,
                  boot_timeout: float) -> int:
    """USR2 to the old master; wait until find_new() names the new one and all its workers
    marked themselves ready, then stop the old one gracefully (TERM: in-flight requests
    finish). Returns the new master's pid; raises CommandFailed if it does not come up."""
    workers = len(procs.children(old)) or 1
    new = [0]
    asked = [0.0]

    def new_found() -> bool:
        # A master itself started by USR2 ignores USR2 until it has noticed that its parent
        # is gone (up to a second); one with a new master starting ignores it too. So it is
        # asked again each second: a repeat is harmless either way.
        if time.monotonic() - asked[0] >= 1.0:
            _kill(old, signal.SIGUSR2)
            asked[0] = time.monotonic()
        new[0] = find_new()
        return bool(new[0])

    # The new master says so before it loads the app: it is there in seconds, or never
    # (it died at start; the old master, which reaps it, serves on meanwhile).
    if not _wait(new_found, min(NEW_MASTER_SECONDS, boot_timeout)):
        raise CommandFailed("The new release's gunicorn master did not start.",
                            "see `pws logs NAME`.")

    def new_ready() -> bool:
        kids = procs.children(new[0])
        return len([p for p in kids if (ready_dir / f"worker-{p}.ready").exists()]) >= workers

    if not _wait(new_ready, boot_timeout):
        # Left as it is: the caller puts `current` back, then restarts the service.
        raise CommandFailed(f"The new master's workers were not up within {boot_timeout:.0f}s.",
                            "see `pws logs NAME`.")
    _kill(old, signal.SIGTERM)
    _wait(lambda: not procs.alive(old), boot_timeout)
    # Wake the new master (WINCH does nothing else to a master not daemonised): it notices at
    # once that its parent is gone and takes USR2 again, instead of within a second.
    _kill(new[0], signal.SIGWINCH)
    return new[0]


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
