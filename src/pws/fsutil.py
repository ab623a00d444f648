"""Small filesystem helpers shared by the writers."""
from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, content: str, mode: int = 0o644) -> None:
    """Temp file in the same directory, fsync, rename: readers see the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.pws-tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, content.encode())
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def remove_path(path: Path) -> bool:
    """Remove a file or symlink if present; True if something was removed."""
    try:
        path.unlink()
        return True
    except FileNotFoundError:
        return False
