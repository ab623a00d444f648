"""Every write pws makes under /etc/nginx goes through NginxState, which records it first.

State lives in /var/lib/pws/nginx (DESIGN §5): `phase`, `base.tar` + `base.manifest` (the
admin's /etc/nginx before pws touched it, taken once), and `written/` + `written.manifest`
(what pws left at each path it created, changed or removed). Recording before writing means
an interrupted run never leaves a pws change the purge does not know about.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

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

    # --- phase and base snapshot
    @property
    def phase(self) -> str:
        path = self.dir / "phase"
        return path.read_text().strip() if path.exists() else ""

    def set_phase(self, phase: str) -> None:
        assert phase in PHASES
        write_atomic(self.dir / "phase", phase + "\n", 0o644)

    @property
    def has_base(self) -> bool:
        return (self.dir / "base.manifest").exists() and (self.dir / "base.tar").exists()

    def ensure_snapshot(self) -> bool:
        """Take the base snapshot once; never from a tree pws has already written to."""
        if self.has_base:
            return False
        if self.written():
            raise SnapshotError(
                f"{self.dir} records pws writes but has no base snapshot (was it edited?).",
                "restore it from a backup, or remove the pws-* files from /etc/nginx and the "
                "state dir, then run `dpkg-reconfigure pws`.")
        if not self.nginx.is_dir():
            raise SnapshotError(f"{self.nginx} does not exist.", "install nginx first.")
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.dir / ".base.tar.tmp"
        subprocess.run(["tar", "-C", str(self.nginx.parent), "--numeric-owner", "-cpf", str(tmp),
                        self.nginx.name], check=True)
        write_atomic(self.dir / "base.manifest", manifest.render(manifest.scan(self.nginx)), 0o600)
        os.replace(tmp, self.dir / "base.tar")
        self.set_phase("snapshotted")
        return True

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
        self.ensure_snapshot()
        rel = entry_after.path
        kept = self.dir / "written" / rel
        if content is not None:
            kept.parent.mkdir(parents=True, exist_ok=True)
            kept.write_bytes(content)
        elif kept.exists() or kept.is_symlink():
            kept.unlink()
        entries = self.written()
        entries[rel] = entry_after
        write_atomic(self.dir / "written.manifest", manifest.render(entries.values()), 0o600)

    def _rel(self, path: Path) -> str:
        return os.path.relpath(path, self.nginx)

    def write_file(self, path: Path, content: str, mode: int = 0o644) -> None:
        data = content.encode()
        owner = f"{os.getuid()}:{os.getgid()}"
        after = Entry(self._rel(path), "f", f"{mode:04o}", owner, manifest.sha256_bytes(data))
        self._record(path, after, data)
        write_atomic(path, content, mode)

    def symlink(self, path: Path, target: str) -> None:
        owner = f"{os.getuid()}:{os.getgid()}"
        self._record(path, Entry(self._rel(path), "l", "-", owner, target), None)
        tmp = path.with_name(f".{path.name}.pws-tmp")
        remove_path(tmp)
        os.symlink(target, tmp)
        os.replace(tmp, path)

    def remove(self, path: Path) -> None:
        if not (path.exists() or path.is_symlink()):
            return
        self._record(path, Entry(self._rel(path), ABSENT), None)
        remove_path(path)

    def current(self, path: Path) -> Entry:
        return manifest.entry_for(self.nginx, self._rel(path))

    def drop_state(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
