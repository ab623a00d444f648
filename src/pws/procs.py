"""Reading the process table (/proc): children of a master, processes of a user."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def _each(name: str) -> Iterator[tuple[int, str]]:
    """(pid, text of /proc/PID/NAME) for every process still there when read."""
    for path in Path("/proc").glob(f"[0-9]*/{name}"):
        try:
            yield int(path.parent.name), path.read_text()
        except OSError:
            continue


def children(pid: int) -> set[int]:
    return {kid for kid, text in _each("stat") if int(text.rsplit(")", 1)[1].split()[1]) == pid}


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()


def owned_by(uid: int) -> set[int]:
    """Every process whose real uid is uid."""
    return {pid for pid, text in _each("status") for line in text.splitlines()
            if line.startswith("Uid:") and int(line.split()[1]) == uid}


def cgroup(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return ""


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        kids = children(todo.pop()) - found
        found |= kids
        todo.extend(kids)
    return found
