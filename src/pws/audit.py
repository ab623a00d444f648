"""The audit log: one JSON line per change (who, what, when, result) in /var/log/pws/audit.log.

Written by root only (the root CLI, pwsd), opened with O_APPEND|O_NOFOLLOW in a root-owned
directory; each entry is one write(2) below PIPE_BUF-ish sizes, so concurrent writers do not
interleave inside a line. Values of `pws env set` are never recorded, only their names.
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

from . import fsutil, safefs
from .paths import Paths

MAX_ARG = 200  # characters of each argument recorded
MAX_READ = 64 * 1024 * 1024
# Commands that change nothing: not recorded.
READ_ONLY = frozenset({"list", "status", "logs", "releases", "alerts", "grants", "audit",
                       "nginx status", "nginx diff", "health"})


def log_file(paths: Paths) -> Path:
    return paths._r("/var/log/pws") / "audit.log"


def redact(command: str, argv: list[str]) -> list[str]:
    """What is recorded of argv: env values masked, every argument cut to MAX_ARG."""
    out = []
    for arg in argv:
        if command == "env" and "=" in arg and not arg.startswith("-"):
            arg = arg.split("=", 1)[0] + "=***"
        out.append(arg[:MAX_ARG])
    return out


def record(paths: Paths, *, who: str, uid: int, via: str, prog: str, command: str,
           argv: list[str], site: str, result: int, error: str = "") -> None:
    entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "who": who, "uid": uid,
             "via": via, "prog": prog, "command": command, "site": site,
             "argv": redact(command, argv),
             "result": result}
    if error:
        entry["error"] = error[:500]
    line = (json.dumps(entry, ensure_ascii=True) + "\n").encode()
    path = log_file(paths)
    fsutil.make_log_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o640)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def entries(paths: Paths) -> Iterator[dict]:
    """Every entry, oldest first (lines that are not JSON objects are skipped)."""
    data = safefs.read_file(log_file(paths), MAX_READ) or b""
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            yield entry
