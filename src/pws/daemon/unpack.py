"""A caller's project, sent as a tar stream, unpacked by root into a fresh root-owned dir.

Every member is checked before anything is written: only regular files, directories and
symbolic links; relative names without `..`, no name twice, nothing below a link, links only
to something inside the project (kept as links, never followed here); modes cut to 0755,
owner root. Limits: MAX_MEMBERS members, MAX_UNPACKED bytes in all.
"""
from __future__ import annotations

import posixpath
import tarfile
from pathlib import Path

from .protocol import BadRequest

MAX_MEMBERS = 50_000
MAX_UNPACKED = 1 << 30
FIX = "send the project directory as `pws` does (files, directories and links only)."


def check_members(tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    members, seen, links, total = [], set(), set(), 0
    for member in tar:
        if len(members) >= MAX_MEMBERS:
            raise BadRequest(f"The project has more than {MAX_MEMBERS} entries.",
                             "leave out data, venvs and build output.")
        name = _name(member.name)
        if not (member.isreg() or member.isdir() or member.issym()):
            raise BadRequest(f"{name[:200]!r} in the project is not a file, directory or "
                             "link.", FIX)
        if name in seen or any(p in links for p in _parents(name)):
            raise BadRequest(f"{name[:200]!r} comes twice, or below a link.", FIX)
        total += member.size if member.isreg() else 0
        if total > MAX_UNPACKED:
            raise BadRequest(f"The project is larger than {MAX_UNPACKED >> 20} MiB unpacked.",
                             "leave out data, venvs and build output.")
        seen.add(name)
        if member.issym():
            _check_link(name, member.linkname)
            links.add(name)
        member.name = name
        member.uid = member.gid = 0
        member.uname = member.gname = "root"
        member.mode = (member.mode & 0o755) | (0o700 if member.isdir() else 0o600)
        members.append(member)
    return members


def _name(raw: str) -> str:
    name = posixpath.normpath(raw)
    if (raw.startswith("/") or name == ".." or name.startswith("../") or "\0" in raw
            or len(raw) > 4096):
        raise BadRequest(f"{raw[:200]!r} in the project points outside it.", FIX)
    return name


def _check_link(name: str, target: str) -> None:
    """A link must stay inside the project: its release is read by the site user, whose
    rights a link outside could only lend to other users' files."""
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if (target.startswith("/") or resolved == ".." or resolved.startswith("../")
            or "\0" in target):
        raise BadRequest(f"{name[:200]!r} is a link to {target[:200]!r}, outside the project.",
                         "replace the link by the file itself, or leave it out.")


def _parents(name: str) -> list[str]:
    parts = name.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def unpack(archive: Path, dest: Path) -> None:
    """archive (a plain tar) into dest, an existing empty root-owned 0700 directory."""
    try:
        with tarfile.open(archive, "r:") as tar:
            members = check_members(tar)
            # Everything is checked above; the "data" filter is a second guard where the
            # interpreter has it (refuses absolute, escaping and device members itself).
            extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(dest, members=members, numeric_owner=True, **extra)
    except (tarfile.TarError, EOFError) as exc:
        raise BadRequest(f"The project stream is not a valid tar archive ({exc}).", FIX) from exc
    except OSError as exc:
        raise BadRequest(f"The project could not be unpacked: {exc.strerror}.", FIX) from exc
