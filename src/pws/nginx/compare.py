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
    made_for_pws_files: bool = False  # a directory pws created to write into

    @property
    def verdict(self) -> str:
        b, w, c = self.base, self.written, self.current
        if self.made_for_pws_files and c.type != ABSENT:
            return "created by pws for its files"
        if w is None or (w.same_state(b) and c.same_state(b)):
            if c.same_state(b):
                return "unchanged"
            return ("added by the admin" if b.type == ABSENT else
                    "removed by the admin" if c.type == ABSENT else "changed by the admin")
        what = ("created" if b.type == ABSENT else "removed" if w.type == ABSENT else "changed")
        if c.same_state(w):
            return f"{what} by pws"
        if c.same_state(b):
            return f"{what} by pws, since put back as it was"
        return f"{what} by pws, then edited by the admin"

    @property
    def at_purge(self) -> str:
        """What `apt purge pws` does here: the table of maintscripts/nginx-restore.sh."""
        b, w, c = self.base, self.written, self.current
        if self.made_for_pws_files and c.type == "d":
            return "purge removes it if it is empty"
        if w is None or w.same_state(b) or c.same_state(b):
            return "purge leaves it as it is"
        if c.same_state(w):
            return ("purge removes it" if b.type == ABSENT else
                    "purge recreates it" if w.type == ABSENT else "purge restores the original")
        if c.type == ABSENT:
            return "purge leaves it absent, as you deleted it"
        if ABSENT in (w.type, b.type):
            return "purge keeps your version"
        if (b.type, w.type, c.type) != ("f", "f", "f"):
            return "purge keeps your version and saves the original in /var/backups/pws"
        return ("purge merges your edits into the original, or keeps yours and saves the "
                "original in /var/backups/pws")


def states(state: NginxState) -> list[PathState]:
    """Every path in the snapshot, in pws's record, or in the tree now."""
    base, written = state.base(), state.written()
    now = {e.path: e for e in manifest.scan(state.nginx)} if state.nginx.is_dir() else {}
    made = {str(p) for rel in written for p in Path(rel).parents if str(p) not in base}
    out = []
    for rel in sorted(set(base) | set(written) | set(now) | made - {"."}):
        b = base.get(rel, Entry(rel, ABSENT))
        c = now.get(rel) or manifest.entry_for(state.nginx, rel)
        out.append(PathState(rel, b, written.get(rel), c, rel in made))
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
    """Snapshot -> now for every path whose state differs; for a path the admin edited
    after pws wrote it, also what pws left -> now."""
    out: list[str] = []
    with tarfile.open(state.dir / "base.tar") as tar:
        members = {m.name: m for m in tar.getmembers()}
        for s in changed(state):
            member = members.get(f"{state.nginx.name}/{s.path}".removesuffix("/."))
            before = (tar.extractfile(member).read().decode(errors="replace").splitlines(keepends=True)
                      if member is not None and member.isfile() else _text(s.base, None))
            after = _text(s.current, state.nginx / s.path)
            out.append(f"# {s.path}: {s.verdict}; {s.at_purge}\n")
            out.extend(difflib.unified_diff(before, after, f"snapshot/{s.path}", f"now/{s.path}"))
            both = ABSENT not in (s.base.type, s.current.type)
            if both and (s.base.mode, s.base.owner) != (s.current.mode, s.current.owner):
                out.append(f"# mode/owner: {s.base.mode} {s.base.owner} -> {s.current.mode} {s.current.owner}\n")
            if s.verdict.endswith("then edited by the admin"):
                out.append(f"# your edits since pws wrote {s.path}:\n")
                left = _text(s.written, state.dir / "written" / s.path)
                out.extend(difflib.unified_diff(left, after, f"pws/{s.path}", f"now/{s.path}"))
    return "".join(line if line.endswith("\n") else line + "\n" for line in out)
