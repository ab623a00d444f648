"""Each site runs as its own unprivileged system user, pws-NAME."""
from __future__ import annotations

import contextlib
import grp
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

from . import procs
from .runner import run


def exists(user: str) -> bool:
    try:
        pwd.getpwnam(user)
        return True
    except KeyError:
        return False


def group_exists(group: str) -> bool:
    try:
        grp.getgrnam(group)
        return True
    except KeyError:
        return False


def create(user: str, home: Path) -> None:
    run(["adduser", "--system", "--group", "--home", str(home), "--no-create-home",
         "--shell", "/usr/sbin/nologin", "--gecos", f"PWS site {user[4:]}", "--quiet", user],
        problem=f"Could not create the system user {user}.")


def kill_leftovers(user: str, within: float = 10.0) -> None:
    """Processes the user still runs (a `pws manage` shell, an orphaned worker) go with it."""
    deadline = time.monotonic() + within
    while subprocess.run(["pkill", "-KILL", "-u", user], capture_output=True).returncode == 0:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)


def kill_strays(user: str, keep: set[int]) -> int:
    """Kill what the user runs outside keep (the site's service): what a build, a check or a
    migration left behind (a daemon that escaped its session) must not outlive them, nor run
    outside the service's sandbox. The number killed."""
    uid = ids(user)[0]
    strays = procs.owned_by(uid) - keep
    for pid in strays:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(strays)


def remove(user: str) -> None:
    if exists(user):
        kill_leftovers(user)
        run(["deluser", "--system", "--quiet", user], problem=f"Could not remove the user {user}.")
    if group_exists(user):
        run(["delgroup", "--system", "--quiet", user], problem=f"Could not remove the group {user}.")


def ids(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid
