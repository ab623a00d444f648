"""A site's releases (docs/architecture.md): each deploy builds one beside the live one.

    /srv/pws/NAME/releases/ID/app         the code, sealed root:pws-NAME
    /srv/pws/NAME/releases/ID/static      what nginx serves for this release (copies, collectstatic)
    /srv/pws/NAME/releases/ID/venv ->     ../../venvs/HASH, shared by releases with the same
                                          requirements (content hash)
    /srv/pws/NAME/releases/ID/release.json   id, created, by, source, state, venv, snapshot
    /srv/pws/NAME/current -> releases/ID  the live release: one atomic rename switches it

The home, releases/ and venvs/ are root's: only root makes or switches these links, so
following them never follows something a site wrote. Root's own file operations still use the
real paths (Release.app, Release.venv), never the links.
"""
from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import safefs
from .errors import InvalidInput, PwsError
from .paths import Paths

CURRENT = "current"
META = "release.json"
VENV_DONE = ".pws-complete"  # in a venv once it was built in full: only then is it shared
LEGACY_VENV = "venv"  # where sites made before releases keep theirs

# States a release's record goes through; "live" is not one: that is whatever `current` names.
BUILDING, READY, FAILED = "building", "ready", "failed"


class NoRelease(PwsError):
    """A site has no release of that id (or none at all)."""


@dataclass
class Release:
    home: Path
    id: int
    meta: dict = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        return self.home / "releases" / str(self.id)

    @property
    def app(self) -> Path:
        return self.dir / "app"

    @property
    def static(self) -> Path:
        return self.dir / "static"

    @property
    def venv(self) -> Path:
        """The real venv (no link on the way)."""
        return self.home / self.meta["venv"]

    @property
    def state(self) -> str:
        return self.meta.get("state", "")


class Releases:
    def __init__(self, paths: Paths, name: str):
        self.name = name
        self.home = paths.site_home(name)
        self.root = self.home / "releases"

    # --- reading
    def all(self) -> list[Release]:
        if not self.root.is_dir():
            return []
        found = []
        for entry in os.scandir(self.root):
            if entry.name.isdigit() and entry.is_dir(follow_symlinks=False):
                meta = self._read_meta(int(entry.name))
                if meta is not None:
                    found.append(Release(self.home, int(entry.name), meta))
        return sorted(found, key=lambda r: r.id)

    def _read_meta(self, rid: int) -> dict | None:
        try:
            data = safefs.read_file(self.root / str(rid) / META, limit=65536)
            meta = json.loads(data or b"null")
        except (safefs.UnsafePath, ValueError):
            return None
        return meta if isinstance(meta, dict) and "venv" in meta else None

    def get(self, rid: int) -> Release:
        for release in self.all():
            if release.id == rid:
                return release
        raise NoRelease(f"Site '{self.name}' has no release {rid}.",
                        f"see `pws releases {self.name}`.")

    def current_id(self) -> int | None:
        try:
            target = os.readlink(self.home / CURRENT)
        except OSError:
            return None
        head, _, rid = target.partition("/")
        return int(rid) if head == "releases" and rid.isdigit() else None

    def current(self) -> Release | None:
        rid = self.current_id()
        if rid is None:
            return None
        meta = self._read_meta(rid)
        return Release(self.home, rid, meta) if meta else None

    def live(self) -> Release:
        release = self.current()
        if release is None:
            raise NoRelease(f"Site '{self.name}' has no live release.",
                            f"deploy one with `pws deploy {self.name} --from PATH`.")
        return release

    # --- changing
    def begin(self, source: str, by: str) -> Release:
        """A new release record (state building) with the next id."""
        safefs.make_dir(self.root, 0o755, 0, 0)
        rid = max((r.id for r in self.all()), default=0) + 1
        while (self.root / str(rid)).exists():  # a record that could not be read
            rid += 1
        safefs.make_dir(self.root / str(rid), 0o755, 0, 0)
        release = Release(self.home, rid, {
            "id": rid, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "by": by,
            "source": source, "state": BUILDING, "venv": ""})
        return release

    def save(self, release: Release) -> None:
        safefs.write_file(release.dir / META, json.dumps(release.meta, indent=1) + "\n",
                          0o644, 0, 0)

    def switch(self, release: Release) -> None:
        """Make release the live one: a new link renamed over `current`, so every reader
        sees the old release or the new one, never neither."""
        with safefs.opened_dir(self.home) as fd:
            tmp = f".{CURRENT}.{secrets.token_hex(6)}"
            os.symlink(f"releases/{release.id}", tmp, dir_fd=fd)
            os.rename(tmp, CURRENT, src_dir_fd=fd, dst_dir_fd=fd)
            os.fsync(fd)

    def link_venv(self, release: Release, venv_rel: str) -> None:
        """releases/ID/venv -> the real venv, for the units' and nginx's fixed paths."""
        release.meta["venv"] = venv_rel
        with safefs.opened_dir(release.dir) as fd:
            with contextlib.suppress(FileNotFoundError):
                os.unlink("venv", dir_fd=fd)
            os.symlink(f"../../{venv_rel}", "venv", dir_fd=fd)

    def record_failure(self, release: Release, reason: str) -> None:
        """Keep the record of a refused release (its code is gone), for `pws releases`."""
        self.discard(release)
        safefs.make_dir(release.dir, 0o755, 0, 0)
        release.meta.update(state=FAILED, reason=reason[:2000])
        self.save(release)

    def discard(self, release: Release) -> None:
        shutil.rmtree(release.dir, ignore_errors=True)  # fd-based: follows no link

    # --- venvs shared by content hash
    def venv_dir(self, key: str) -> Path:
        return self.home / "venvs" / key

    @staticmethod
    def venv_complete(venv: Path) -> bool:
        return (venv / VENV_DONE).is_file() and not (venv / VENV_DONE).is_symlink()

    @staticmethod
    def mark_venv_complete(venv: Path, gid: int) -> None:
        safefs.write_file(venv / VENV_DONE, "", 0o640, 0, gid)

    # --- housekeeping
    def clean_leftovers(self) -> list[int]:
        """Remove what an interrupted deploy left: releases still building (never live) and
        venvs never completed that no release uses. The ids removed."""
        live = self.current_id()
        removed = []
        for release in self.all():
            if release.state == BUILDING and release.id != live:
                self.discard(release)
                removed.append(release.id)
        self._remove_unused_venvs(lambda v: not self.venv_complete(v))
        return removed

    def prune(self, keep: int) -> list[int]:
        """Keep the live release and the `keep` newest others that can be gone back to
        (plus the newest failed one, for its reason); remove the rest and unused venvs."""
        live = self.current_id()
        ready = [r for r in self.all() if r.state == READY and r.id != live]
        failed = [r for r in self.all() if r.state == FAILED]
        doomed = ready[:-keep] if keep > 0 else ready
        doomed += failed[:-1]
        for release in doomed:
            self.discard(release)
        self._remove_unused_venvs(lambda v: True)
        return [r.id for r in doomed]

    def _remove_unused_venvs(self, removable) -> None:
        base = self.home / "venvs"
        if not base.is_dir():
            return
        used = {r.meta.get("venv") for r in self.all() if r.state != FAILED}
        for entry in os.scandir(base):
            venv = base / entry.name
            if f"venvs/{entry.name}" not in used and removable(venv):
                shutil.rmtree(venv, ignore_errors=True)
        legacy = self.home / LEGACY_VENV
        if LEGACY_VENV not in used and self.all() and legacy.is_dir() and not legacy.is_symlink():
            shutil.rmtree(legacy, ignore_errors=True)

    def adopt_legacy(self) -> Release | None:
        """A site made before releases (home/app, home/venv, home/static): its tree becomes
        release 1, in place (a venv cannot move: it stays at home/venv)."""
        legacy_app = self.home / "app"
        if self.current_id() is not None or not legacy_app.is_dir() or legacy_app.is_symlink():
            return None
        release = self.begin(source="(made before releases)", by="pws")
        os.rename(legacy_app, release.app)
        if (self.home / "static").is_dir() and not (self.home / "static").is_symlink():
            os.rename(self.home / "static", release.static)
        self.link_venv(release, LEGACY_VENV)
        release.meta["state"] = READY
        self.save(release)
        self.switch(release)
        return release


def parse_id(text: str) -> int:
    if not text.isdigit():
        raise InvalidInput(f"{text!r} is not a release id.", "give a number from `pws releases`.")
    return int(text)
