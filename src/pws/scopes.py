"""A granted site's limits on what runs for it outside its service: builds, the import check,
release commands, the health gate's gunicorn (docs/security.md).

The site's service gets its owner's limits from a drop-in (MemoryMax, CPUQuota, TasksMax);
what pws runs as the site user during a deploy runs outside that service, so each such
process is moved, before any code of the site runs, into a transient systemd scope of its
own with the same limits (`pws-run-NAME-PID.scope`). `confined(user, limits)` says which
user's runs to confine while an operation lasts; `runas` and `spawn` ask `wanted(user)`.
"""
from __future__ import annotations

import contextlib
import contextvars
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from .errors import CommandFailed

_CONFINED: contextvars.ContextVar[tuple[str, dict[str, str]] | None] = \
    contextvars.ContextVar("pws_confined", default=None)
_UNIT_SIZES = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


@contextlib.contextmanager
def confined(user: str, limits: dict[str, str]) -> Iterator[None]:
    """While this lasts, every process pws starts as user runs in a scope with limits (none
    when limits is empty, or when systemd is not the service manager)."""
    token = _CONFINED.set((user, dict(limits)) if limits and _systemd() else None)
    try:
        yield
    finally:
        _CONFINED.reset(token)


def wanted(user: str) -> dict[str, str]:
    """The limits for a process about to start as user ({}: none)."""
    current = _CONFINED.get()
    return current[1] if current and current[0] == user else {}


def properties(limits: dict[str, str]) -> list[str]:
    """busctl's a(sv) arguments for the limits (validated: validate.LIMITS)."""
    args: list[str] = []
    if "MemoryMax" in limits:
        text = limits["MemoryMax"]
        args += ["MemoryMax", "t", str(int(text[:-1]) * _UNIT_SIZES[text[-1]])]
    if "CPUQuota" in limits:
        args += ["CPUQuotaPerSecUSec", "t", str(int(limits["CPUQuota"][:-1]) * 10_000)]
    if "TasksMax" in limits:
        args += ["TasksMax", "t", limits["TasksMax"]]
    return args


def move(pid: int, user: str, limits: dict[str, str]) -> str:
    """Put pid (stopped before running anything of the site) in a new scope with limits;
    the scope's name. Raises CommandFailed if systemd refuses or is too slow."""
    unit = f"pws-run-{user.removeprefix('pws-')}-{pid}.scope"
    limit_props = properties(limits)
    count = 2 + len(limit_props) // 3
    proc = subprocess.run(
        ["busctl", "call", "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
         "org.freedesktop.systemd1.Manager", "StartTransientUnit", "ssa(sv)a(sa(sv))",
         unit, "fail", str(count), "PIDs", "au", "1", str(pid),
         "CollectMode", "s", "inactive-or-failed", *limit_props, "0"],
        capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    if proc.returncode != 0:
        raise CommandFailed(f"systemd did not make the scope {unit}: {proc.stderr.strip()}",
                            "check `systemctl status` and the journal (the system's D-Bus, "
                            "package dbus, must be running).")
    deadline = time.monotonic() + 10
    cgroup = Path(f"/proc/{pid}/cgroup")
    while f"/{unit}" not in _read(cgroup):
        if time.monotonic() > deadline:
            raise CommandFailed(f"process {pid} did not reach the scope {unit}.",
                                "check `systemctl status` and the journal.")
        time.sleep(0.01)
    return unit


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _systemd() -> bool:
    return Path("/run/systemd/system").is_dir()
