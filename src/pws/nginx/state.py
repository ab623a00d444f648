"""Every write pws makes under /etc/nginx goes through NginxState, which records it first.

State lives in /var/lib/pws/nginx (docs/architecture.md): `phase`, `base.tar` + `base.manifest` (the
admin's /etc/nginx before pws touched it, taken once), and `written/` + `written.manifest`
(what pws left at each path it created, changed or removed). Recording before writing means
an interrupted run never leaves a pws change the purge does not know about.

The state holds a copy of /etc/nginx (TLS keys included): the dir is 0700 and every file in it
0600, whichever path made it. One flock on `lock` serialises every recording and its write, so
parallel runs for different sites never lose each other's records.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from .. import safefs
from ..errors import PwsError
from ..fsutil import remove_path, write_atomic
from ..paths import Paths
from . import manifest
from .manifest import ABSENT, Entry

PHASES = ("deferred", "snapshotted", "applied")


class SnapshotError(PwsError):
    """The nginx state directory is missing pieces or was tampered with."""


class NginxState:
    def __init__(self, paths: Paths):
        self.nginx = paths.nginx
        self.dir = paths.nginx_state
        self._lock_fd: int | None = None
        self._lock_depth = 0

    # --- the private state dir and its lock
    def make_private(self) -> None:
        """Create the state dir 0700, and make what an older version left there private."""
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        safefs.make_dir(self.dir, 0o700)
        safefs.seal_tree(self.dir, os.getuid(), os.getgid(), dir_mode=0o700, file_mode=0o600)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the state's exclusive lock (reentrant within this object)."""
        if self._lock_depth == 0:
            self.dir.parent.mkdir(parents=True, exist_ok=True)
            safefs.make_dir(self.dir, 0o700)
            fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            self._lock_fd = fd
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0:
                os.close(self._lock_fd)
                self._lock_fd = None

    def _write_private(self, rel: str, data: bytes) -> None:
        """A file of the state dir, 0600, replaced atomically; its dirs 0700."""
        path = self.dir / rel
        for parent in reversed(path.relative_to(self.dir).parents[:-1]):
            safefs.make_dir(self.dir / parent, 0o700)
        safefs.write_file(path, data, 0o600)

    # --- phase and base snapshot
    @property
    def phase(self) -> str:
        path = self.dir / "phase"
        return path.read_text().strip() if path.exists() else ""

    def set_phase(self, phase: str) -> None:
        assert phase in PHASES
        with self.locked():
            self._write_private("phase", (phase + "\n").encode())

    @property
    def has_base(self) -> bool:
        return (self.dir / "base.manifest").exists() and (self.dir / "base.tar").exists()

    def ensure_snapshot(self) -> bool:
        """Take the base snapshot once; never from a tree pws has already written to."""
        with self.locked():
            return self._ensure_snapshot()

    def _ensure_snapshot(self) -> bool:
        if self.has_base:
            return False
        if self.written():
            raise SnapshotError(
                f"{self.dir} records pws writes but has no base snapshot (was it edited?).",
                "restore it from a backup, or remove the pws-* files from /etc/nginx and the "
                "state dir, then run `dpkg-reconfigure pws`.")
        if not self.nginx.is_dir():
            raise SnapshotError(f"{self.nginx} does not exist.", "install nginx first.")
        self._tar_base()
        self._write_private("base.manifest", manifest.render(manifest.scan(self.nginx)).encode())
        os.replace(self.dir / ".base.tar.tmp", self.dir / "base.tar")
        self.set_phase("snapshotted")
        return True

    def _tar_base(self) -> None:
        """base.tar's temp file, made 0600 before tar writes a byte into it."""
        with safefs.opened_dir(self.dir) as dirfd:
            safefs.unlink_at(dirfd, ".base.tar.tmp")
            fd = os.open(".base.tar.tmp", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o600, dir_fd=dirfd)
        try:
            os.fchmod(fd, 0o600)
            subprocess.run(["tar", "-C", str(self.nginx.parent), "--numeric-owner", "-cpf", "-",
                            self.nginx.name], stdout=fd, check=True)
            os.fsync(fd)
        finally:
            os.close(fd)

    def base(self) -> dict[str, Entry]:
        return self._read("base.manifest")

    def written(self) -> dict[str, Entry]:
        return self._read("written.manifest")

    def _read(self, name: str) -> dict[str, Entry]:
        try:
            return manifest.read(self.dir / name)
        except ValueError as exc:
            raise SnapshotError(f"{self.dir / name} is damaged: {exc}.",
                                "restore it from a backup; pws changes nothing in /etc/nginx "
                                "until then.") from exc

    # --- the one recording write function and its three faces
    def _record(self, path: Path, entry_after: Entry, content: bytes | None) -> None:
        """Call with the lock held, and write the path before letting it go."""
        assert self._lock_depth, "recording without the state lock"
        self._ensure_snapshot()
        rel = entry_after.path
        kept = self.dir / "written" / rel
        if content is not None:
            self._write_private(f"written/{rel}", content)
        elif kept.exists() or kept.is_symlink():
            kept.unlink()
        entries = self.written()
        entries[rel] = entry_after
        self._write_private("written.manifest", manifest.render(entries.values()).encode())

    def _rel(self, path: Path) -> str:
        return os.path.relpath(path, self.nginx)

    def write_file(self, path: Path, content: str, mode: int = 0o644) -> None:
        data = content.encode()
        owner = f"{os.getuid()}:{os.getgid()}"
        after = Entry(self._rel(path), "f", f"{mode:04o}", owner, manifest.sha256_bytes(data))
        with self.locked():
            self._record(path, after, data)
            write_atomic(path, content, mode)

    def symlink(self, path: Path, target: str) -> None:
        owner = f"{os.getuid()}:{os.getgid()}"
        with self.locked():
            self._record(path, Entry(self._rel(path), "l", "-", owner, target), None)
            tmp = path.with_name(f".{path.name}.pws-tmp")
            remove_path(tmp)
            os.symlink(target, tmp)
            os.replace(tmp, path)

    def remove(self, path: Path) -> None:
        with self.locked():
            if not (path.exists() or path.is_symlink()):
                return
            self._record(path, Entry(self._rel(path), ABSENT), None)
            remove_path(path)

    def current(self, path: Path) -> Entry:
        return manifest.entry_for(self.nginx, self._rel(path))

    def drop_state(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
