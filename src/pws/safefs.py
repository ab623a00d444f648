"""Root's only way to touch a path that a site, or an adopted repo, can write (docs/security.md).

Every path is opened one component at a time with O_NOFOLLOW, each relative to the directory
fd of the one before, so a symlink anywhere on the way is refused rather than followed, and a
directory swapped for a link after it was opened changes nothing. Files are written under a
fresh random temp name (O_EXCL) and renamed into place, owner and mode set on the open fd.
Trees are walked by fd, never by path: links are never followed, files a site did not make
(another owner, or hard links) are never chowned or chmodded.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from .errors import PwsError

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class UnsafePath(PwsError):
    """A path root was asked to use holds a symlink or something else than it should."""


def _parts(path: Path) -> list[str]:
    path = Path(path)
    if not path.is_absolute():
        raise ValueError(f"{path} is not absolute")
    parts = [p for p in path.parts[1:] if p not in ("", ".")]
    if ".." in parts:
        raise UnsafePath(f"{path} contains '..'.", "give a plain path.")
    return parts


def _refused(path: Path, exc: OSError) -> UnsafePath:
    return UnsafePath(f"{path} is a symlink or has one on its way ({exc.strerror}); pws does "
                      "not follow links in a site's files.",
                      "replace the link by a real directory or file.")


def _name(name: str) -> str:
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"{name!r} is not a single path component")
    return name


@contextlib.contextmanager
def opened_dir(path: Path, *, create: bool = False, mode: int = 0o755) -> Iterator[int]:
    """A directory fd for path, reached without following any symlink (made if create)."""
    fd = os.open("/", DIR_FLAGS)
    try:
        for part in _parts(path):
            try:
                child = os.open(part, DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, mode, dir_fd=fd)
                child = _open_dir_at(fd, part, path)
            except OSError as exc:  # ELOOP (a link) or ENOTDIR
                raise _refused(path, exc) from exc
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def _open_dir_at(dirfd: int, name: str, shown: Path) -> int:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=dirfd)
    except OSError as exc:
        raise _refused(shown, exc) from exc


def make_dir(path: Path, mode: int, uid: int = -1, gid: int = -1) -> None:
    """path as a real directory (never a link), with this owner and mode."""
    with opened_dir(path, create=True, mode=mode) as fd:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)


def write_at(dirfd: int, name: str, data: bytes, mode: int, uid: int = -1, gid: int = -1) -> None:
    """Replace dirfd/name atomically by a new regular file: what was there (a link too) goes."""
    tmp = f".{_name(name)}.pws-{secrets.token_hex(6)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600, dir_fd=dirfd)
    try:
        os.fchown(fd, uid, gid)
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp, dir_fd=dirfd)
        raise
    os.close(fd)
    os.rename(tmp, name, src_dir_fd=dirfd, dst_dir_fd=dirfd)


def write_file(path: Path, data: str | bytes, mode: int = 0o644, uid: int = -1,
               gid: int = -1) -> None:
    """write_at for a full path whose directories must not be links."""
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    with opened_dir(path.parent) as fd:
        write_at(fd, path.name, raw, mode, uid, gid)


def read_at(dirfd: int, name: str, limit: int | None = None) -> bytes | None:
    """The content of dirfd/name if it is a regular file; None if absent; refuses a link, and
    a file larger than limit bytes."""
    try:
        fd = os.open(_name(name), _READ_FLAGS, dir_fd=dirfd)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise UnsafePath(f"{name} is not a regular file.", "remove it.")
        data = f.read() if limit is None else f.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise UnsafePath(f"{name} is larger than {limit} bytes.", "make it smaller.")
    return data


def read_file(path: Path, limit: int | None = None) -> bytes | None:
    """read_at for a full path: None if it (or its directory) is absent."""
    path = Path(path)
    try:
        with opened_dir(path.parent) as fd:
            return read_at(fd, path.name, limit)
    except FileNotFoundError:
        return None
    except UnsafePath:
        raise
    except OSError as exc:  # ELOOP: the file itself is a link
        raise _refused(path, exc) from exc


# A project file root reads for detection (requirements.txt, manage.py, ...): never more.
DETECTION_LIMIT = 1 << 20


def read_text_or_empty(path: Path) -> str:
    """A project file for detection: '' for a link, a non-file, an oversized file or what
    cannot be read (root parses it, never imports it)."""
    try:
        return (read_file(path, DETECTION_LIMIT) or b"").decode(errors="replace")
    except (UnsafePath, OSError):
        return ""


def unlink_at(dirfd: int, name: str) -> bool:
    """Remove dirfd/name if it is a file or a link (the link itself, never its target)."""
    try:
        os.unlink(_name(name), dir_fd=dirfd)
        return True
    except FileNotFoundError:
        return False


def lstat_at(dirfd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(_name(name), dir_fd=dirfd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def seal_tree(root: Path, uid: int, gid: int, *, dir_mode: int, file_mode: int,
              made_by: int | None = None) -> list[str]:
    """Give the tree at root to uid:gid with these modes (exec bits kept for executables).

    Directories are chowned before they are listed, so whoever wrote the tree cannot add to a
    directory once it was visited. Links are chowned themselves (never followed); a file owned
    by someone else than made_by (the user who wrote the tree) or root, or with several hard
    links and not made_by's, is left alone and reported: it was not made here. Returns what
    was skipped.
    """
    skipped: list[str] = []
    with opened_dir(root) as fd:
        _seal_dir(fd, str(root), uid, gid, dir_mode, file_mode, made_by, skipped)
    return skipped


def _seal_dir(fd: int, shown: str, uid: int, gid: int, dir_mode: int, file_mode: int,
              made_by: int | None, skipped: list[str]) -> None:
    os.fchown(fd, uid, gid)
    os.fchmod(fd, dir_mode)
    for entry in os.scandir(fd):
        try:  # whoever wrote the tree may still remove entries: gone is gone
            _seal_entry(fd, entry, f"{shown}/{entry.name}", uid, gid, dir_mode, file_mode,
                        made_by, skipped)
        except FileNotFoundError:
            continue


def _seal_entry(fd: int, entry: os.DirEntry, path: str, uid: int, gid: int, dir_mode: int,
                file_mode: int, made_by: int | None, skipped: list[str]) -> None:
    st = entry.stat(follow_symlinks=False)
    if stat.S_ISLNK(st.st_mode):
        os.chown(entry.name, uid, gid, dir_fd=fd, follow_symlinks=False)
    elif stat.S_ISDIR(st.st_mode):
        try:
            child = os.open(entry.name, DIR_FLAGS, dir_fd=fd)
        except OSError:  # swapped for something else meanwhile
            skipped.append(path)
            return
        try:
            _seal_dir(child, path, uid, gid, dir_mode, file_mode, made_by, skipped)
        finally:
            os.close(child)
    elif stat.S_ISREG(st.st_mode):
        _seal_file(fd, entry.name, path, uid, gid, file_mode, made_by, skipped)
    else:  # fifos, sockets, devices: nothing a project or a venv needs
        os.unlink(entry.name, dir_fd=fd)
        skipped.append(path)


def _open_regular(dirfd: int, name: str) -> tuple[int, os.stat_result] | None:
    """An fd and its stat for dirfd/name if it is (still) a regular file, never via a link."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dirfd)
    except OSError:
        return None
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode):
        return fd, st
    os.close(fd)
    return None


def _seal_file(dirfd: int, name: str, shown: str, uid: int, gid: int, file_mode: int,
               made_by: int | None, skipped: list[str]) -> None:
    opened = _open_regular(dirfd, name)
    if opened is None:
        skipped.append(shown)
        return
    fd, st = opened
    try:
        owners = {0, uid} | ({made_by} if made_by is not None else set())
        # A file with several links is sealed only if the tree's writer owns it: its other
        # links are then where that user could write (uv's hard links from the site's own
        # cache), and it gets what the tree gets. Anyone else's was linked in from elsewhere.
        own = made_by not in (None, 0) and st.st_uid == made_by
        if (st.st_nlink != 1 and not own) or st.st_uid not in owners:
            skipped.append(shown)
            return
        os.fchown(fd, uid, gid)
        executable = st.st_mode & 0o100  # keep it executable for whoever may read it
        os.fchmod(fd, file_mode | (((file_mode & 0o444) >> 2) if executable else 0))
    finally:
        os.close(fd)


def copy_tree(src: Path, dest: Path, *, keep_links: bool, ignore=frozenset()) -> list[str]:
    """Copy src to a new dest: directories and regular files (modes reduced to rwx bits), links
    as links if keep_links (never followed), else skipped; everything else skipped.
    Returns the paths skipped. dest must not exist; its parent is reached without links."""
    skipped: list[str] = []
    dest = Path(dest)
    with opened_dir(src) as sfd, opened_dir(dest.parent) as pfd:
        os.mkdir(dest.name, 0o700, dir_fd=pfd)
        dfd = _open_dir_at(pfd, dest.name, dest)
        try:
            _copy_dir(sfd, dfd, str(src), keep_links, ignore, skipped)
            os.fchmod(dfd, 0o755)
        finally:
            os.close(dfd)
    return skipped


def _copy_dir(sfd: int, dfd: int, shown: str, keep_links: bool, ignore, skipped) -> None:
    for entry in os.scandir(sfd):
        if entry.name in ignore or any(entry.name.endswith(pattern[1:]) for pattern in ignore
                                       if pattern.startswith("*")):
            continue
        path = f"{shown}/{entry.name}"
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            try:
                child_src = os.open(entry.name, DIR_FLAGS, dir_fd=sfd)
            except OSError:
                skipped.append(path)
                continue
            os.mkdir(entry.name, 0o700, dir_fd=dfd)
            child_dest = os.open(entry.name, DIR_FLAGS, dir_fd=dfd)
            try:
                _copy_dir(child_src, child_dest, path, keep_links, ignore, skipped)
                os.fchmod(child_dest, 0o755)
            finally:
                os.close(child_src)
                os.close(child_dest)
        elif stat.S_ISREG(st.st_mode):
            _copy_file(sfd, dfd, entry.name, path, skipped)
        elif stat.S_ISLNK(st.st_mode) and keep_links:
            os.symlink(os.readlink(entry.name, dir_fd=sfd), entry.name, dir_fd=dfd)
        else:
            skipped.append(path)


def _copy_file(sfd: int, dfd: int, name: str, shown: str, skipped: list[str]) -> None:
    opened = _open_regular(sfd, name)
    if opened is None:
        skipped.append(shown)
        return
    src, st = opened
    try:
        mode = 0o755 if st.st_mode & 0o100 else 0o644
        dest = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                       0o600, dir_fd=dfd)
        try:
            while chunk := os.read(src, 1 << 20):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(dest, view):]
            os.fchmod(dest, mode)
        finally:
            os.close(dest)
    finally:
        os.close(src)
