"""Base snapshot (B), what pws left (W) and the current tree (C), path by path."""
from __future__ import annotations

import difflib
import tarfile
from dataclasses import dataclass
from pathlib import Path

from . import manifest
from .manifest import ABSENT, Entry
from .state import NginxState


@dataclass(frozen=True)
class PathState:
    path: str
    base: Entry
    written: Entry | None
    current: Entry

    @property
    def verdict(self) -> str:
        b, w, c = self.base, self.written, self.current
        if w is None or (w.same_state(b) and c.same_state(b)):
            return "unchanged" if c.same_state(b) else "changed by the admin"
        what = ("created" if b.type == ABSENT else "removed" if w.type == ABSENT else "changed")
        if c.same_state(w):
            return f"{what} by pws"
        if c.same_state(b):
            return f"{what} by pws, since put back as it was"
        return f"{what} by pws, then edited by the admin"


def states(state: NginxState) -> list[PathState]:
    base, written = state.base(), state.written()
    out = []
    for rel in sorted(set(base) | set(written)):
        b = base.get(rel, Entry(rel, ABSENT))
        out.append(PathState(rel, b, written.get(rel), manifest.entry_for(state.nginx, rel)))
    return out


def changed(state: NginxState) -> list[PathState]:
    return [s for s in states(state) if s.verdict != "unchanged"]


def _text(entry: Entry, path: Path | None) -> list[str]:
    if entry.type == "l":
        return [f"symlink -> {entry.digest}\n"]
    if entry.type == "d":
        return [f"directory, mode {entry.mode}\n"]
    if entry.type == ABSENT or path is None:
        return []
    try:
        return path.read_text().splitlines(keepends=True)
    except (UnicodeDecodeError, OSError):
        return [f"binary file, sha256 {entry.digest}\n"]


def unified_diff(state: NginxState) -> str:
    """Snapshot -> now, for every path whose state differs."""
    out: list[str] = []
    with tarfile.open(state.dir / "base.tar") as tar:
        members = {m.name: m for m in tar.getmembers()}
        for s in changed(state):
            member = members.get(f"{state.nginx.name}/{s.path}".removesuffix("/."))
            before = (tar.extractfile(member).read().decode(errors="replace").splitlines(keepends=True)
                      if member is not None and member.isfile() else _text(s.base, None))
            after = _text(s.current, state.nginx / s.path)
            out.append(f"# {s.path}: {s.verdict}\n")
            out.extend(difflib.unified_diff(before, after, f"snapshot/{s.path}", f"now/{s.path}"))
            if s.base.mode != s.current.mode or s.base.owner != s.current.owner:
                out.append(f"# mode/owner: {s.base.mode} {s.base.owner} -> {s.current.mode} {s.current.owner}\n")
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)
