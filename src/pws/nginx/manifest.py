"""Manifests of /etc/nginx: one line per path, read by Python here and by POSIX sh at purge.

Line format (tab-separated): relative path, type (f file, l link, d dir, - absent), mode (octal),
uid:gid, and the sha256 of a file or the target of a link ('-' otherwise).
"""
from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

ABSENT = "-"


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the nginx dir
    type: str
    mode: str = "-"
    owner: str = "-"
    digest: str = "-"

    def line(self) -> str:
        return "\t".join((self.path, self.type, self.mode, self.owner, self.digest))

    @classmethod
    def parse(cls, line: str) -> "Entry":
        fields = line.rstrip("\n").split("\t")
        if len(fields) != 5:
            raise ValueError(f"bad manifest line: {line!r}")
        return cls(*fields)

    def same_state(self, other: "Entry") -> bool:
        """Equal in what matters for the restore decision (content/target, mode, owner)."""
        return (self.type, self.mode, self.owner, self.digest) == (
            other.type, other.mode, other.owner, other.digest)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def entry_for(base: Path, rel: str) -> Entry:
    """The current state of base/rel, never following a symlink."""
    path = base / rel
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return Entry(rel, ABSENT)
    mode = f"{stat.S_IMODE(st.st_mode):04o}"
    owner = f"{st.st_uid}:{st.st_gid}"
    if stat.S_ISLNK(st.st_mode):
        return Entry(rel, "l", "-", owner, os.readlink(path))
    if stat.S_ISDIR(st.st_mode):
        return Entry(rel, "d", mode, owner)
    return Entry(rel, "f", mode, owner, sha256_file(path))


def scan(base: Path) -> list[Entry]:
    """Every path under base (base itself as '.'), sorted, symlinks not followed."""
    entries = [entry_for(base, ".")]
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            rel = os.path.relpath(os.path.join(dirpath, name), base)
            entries.append(entry_for(base, rel))
    return entries


def read(path: Path) -> dict[str, Entry]:
    """Raises ValueError for a damaged manifest (this module stays standalone: tests copy it)."""
    if not path.exists():
        return {}
    entries = [Entry.parse(line) for line in path.read_text().splitlines() if line.strip()]
    return {e.path: e for e in entries}


def render(entries) -> str:
    return "".join(e.line() + "\n" for e in sorted(entries, key=lambda e: e.path))
