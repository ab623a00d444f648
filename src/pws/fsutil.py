"""Small filesystem helpers shared by the writers."""
from __future__ import annotations

import grp
from pathlib import Path

from . import safefs


def write_atomic(path: Path, content: str, mode: int = 0o644) -> None:
    """Temp file in the same directory, fsync, rename: readers see the old or the new file.
    For root's own dirs (/etc/pws, /var/lib/pws, /etc/nginx): a link the admin made on the
    way is followed; the file itself goes through safefs.write_file (random O_EXCL temp)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    safefs.write_file(path.parent.resolve() / path.name, content, mode)


def remove_path(path: Path) -> bool:
    """Remove a file or symlink if present; True if something was removed."""
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False


def adm_gid() -> int:
    """Debian's log readers' group (0 where there is none)."""
    try:
        return grp.getgrnam("adm").gr_gid
    except KeyError:
        return 0


def make_log_dir(path: Path) -> None:
    """/var/log/pws (and the like) as Debian's log dirs are: root:adm 0750, never a link.
    Every writer of the dir goes through here, so none of them re-owns it for another."""
    safefs.make_dir(path, 0o750, 0, adm_gid())
