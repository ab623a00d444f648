"""Small filesystem helpers shared by the writers."""
from __future__ import annotations

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
