"""One change at a time per site: mksite, rmsite, apply, reload and the health pass take the
site's lock, so the health pass never scales down or restarts a site mid-reload."""
from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager

from .errors import PwsError
from .paths import Paths


class SiteBusy(PwsError):
    """Another pws command is changing this site right now."""


@contextmanager
def site_lock(paths: Paths, name: str, *, wait: bool = True):
    directory = paths.state / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError as exc:
            raise SiteBusy(f"Site '{name}' is being changed by another pws command.",
                           "try again in a moment.") from exc
        yield
    finally:
        os.close(fd)
