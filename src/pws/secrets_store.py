"""A site's secrets (SECRET_KEY, DB password, env): /etc/pws/secrets/NAME/ (docs/security.md).

/etc/pws/secrets is root 0711: each app reaches its own dir, lists none. NAME is root:pws-NAME
0750 and each file root:pws-NAME 0640: the app reads them through its group, and the site user
can never create, replace or link anything there. Every write goes through safefs (a random
O_EXCL temp name, owner and mode set on the fd, rename), every read refuses links.

Older pws gave the dir and its files to the site user. The first use by root takes the dir back
(on an fd opened without following links; once it is root's, the site user cannot change it),
then removes whatever is not a plain file with one link (planted links, temp names) and
rewrites each secret as root's.
"""
from __future__ import annotations

import contextlib
import grp
import os
import secrets
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

from . import appenv, safefs
from .errors import PwsError
from .paths import Paths
from .site import Site

BASE_MODE, DIR_MODE, FILE_MODE = 0o711, 0o750, 0o640
KEPT_DIR_MODE, KEPT_FILE_MODE = 0o700, 0o600
USER_ENV = "user_env"  # the admin's variables (`pws env`), merged into "env"


def site_gid(user: str, *, required: bool = True) -> int:
    """The site's group (root's when it is gone and not required: the secrets are leaving)."""
    try:
        return grp.getgrnam(user).gr_gid
    except KeyError as exc:
        if not required:
            return 0
        raise PwsError(f"The group {user} does not exist: its site's secrets cannot be given "
                       "to it.", f"run `pws apply {user[4:]}` to make the site whole again."
                       ) from exc


@contextlib.contextmanager
def secured_dir(base: Path, name: str, uid: int, gid: int, *, create: bool) -> Iterator[int | None]:
    """An fd of base/name once it is uid:gid 0750 holding only uid's plain files (None if it
    does not exist and create is False)."""
    with safefs.opened_dir(base.parent, create=True, mode=0o755):
        pass
    safefs.make_dir(base, BASE_MODE, uid)
    with safefs.opened_dir(base) as base_fd:
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(name, 0o700, dir_fd=base_fd)
        try:
            fd = os.open(name, safefs.DIR_FLAGS, dir_fd=base_fd)
        except FileNotFoundError:
            yield None
            return
        except OSError as exc:  # a link or not a directory: base is root's, so not a site's doing
            raise safefs.UnsafePath(f"{base / name} is not a directory ({exc.strerror}).",
                                    "remove it, then run `pws apply` again.") from exc
        try:
            os.fchown(fd, uid, gid)  # from here on, only root changes what is in it
            os.fchmod(fd, DIR_MODE)
            _take_back(fd, uid, gid)
            yield fd
        finally:
            os.close(fd)


def _take_back(fd: int, uid: int, gid: int) -> None:
    """Leave only plain secrets in the dir, each uid:gid FILE_MODE."""
    for entry in list(os.scandir(fd)):
        st = entry.stat(follow_symlinks=False)
        plain = stat.S_ISREG(st.st_mode) and st.st_nlink == 1 and not entry.name.startswith(".")
        if not plain:
            _remove_entry(fd, entry.name, st)
        elif (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) != (uid, gid, FILE_MODE):
            data = safefs.read_at(fd, entry.name)
            if data is not None:  # rewritten: a new inode nobody else has open for writing
                safefs.write_at(fd, entry.name, data, FILE_MODE, uid, gid)


def _remove_entry(dirfd: int, name: str, st: os.stat_result) -> None:
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dirfd)
    else:
        safefs.unlink_at(dirfd, name)  # a link goes itself, never its target


class SecretsStore:
    def __init__(self, paths: Paths, site: Site):
        self.paths = paths
        self.dir = paths.secrets_dir(site.name)
        self.name = site.name
        self.user = site.user

    @contextlib.contextmanager
    def _dir(self, *, create: bool, group_required: bool = True) -> Iterator[int | None]:
        gid = site_gid(self.user, required=group_required)
        with secured_dir(self.dir.parent, self.name, 0, gid, create=create) as fd:
            yield fd

    def put(self, key: str, value: str) -> None:
        self._write(key, value + "\n")

    def _write(self, key: str, text: str) -> None:
        self._write_bytes(key, text.encode())

    def _write_bytes(self, key: str, data: bytes) -> None:
        with self._dir(create=True) as fd:
            safefs.write_at(fd, key, data, FILE_MODE, 0, site_gid(self.user))

    def _read_bytes(self, key: str) -> bytes:
        if not self.dir.parent.is_dir():
            return b""
        with self._dir(create=False) as fd:
            data = None if fd is None else safefs.read_at(fd, key)
        return data or b""

    def get(self, key: str) -> str:
        return self._read_bytes(key).decode().strip()

    def get_or_make(self, key: str, nbytes: int = 50) -> str:
        return self.get(key) or self._make(key, nbytes)

    def _make(self, key: str, nbytes: int) -> str:
        value = secrets.token_urlsafe(nbytes)
        self.put(key, value)
        return value

    # --- the environment: the admin's variables (`pws env`) and the env file every process gets
    def user_env(self) -> dict[str, str]:
        """The variables the admin set with `pws env` (exact values)."""
        return appenv.parse(self._read_bytes(USER_ENV))

    def write_user_env(self, env: dict[str, str]) -> None:
        self._write_bytes(USER_ENV, appenv.render(env))

    def write_env(self, env: dict[str, str]) -> None:
        """The app's environment, literal KEY=VALUE lines, read by its gunicorn config (as the
        site user): pws's own variables (env) and the admin's (`pws env`); where a name is in
        both (a formula that came to set it), pws's value counts."""
        self._write_bytes("env", appenv.render({**self.user_env(), **env}))

    # --- when the site goes (rmsite, issue 9 item 11)
    def keep_for_data(self) -> Path | None:
        """Move the secrets to /var/lib/pws/kept/NAME/secrets (root 0700, files 0600), for the
        data kept signed or encrypted with them; the path, or None if there were none."""
        if not self.dir.parent.is_dir():
            return None
        with self._dir(create=False, group_required=False) as fd:
            if fd is None:
                return None
            kept = keep_files(fd, self.paths.state / "kept" / self.name)
        self.remove()
        return kept

    def remove(self) -> None:
        """Delete the site's secrets (nothing of its data is kept)."""
        try:
            with safefs.opened_dir(self.dir.parent) as base_fd:
                shutil.rmtree(self.name, dir_fd=base_fd)
        except FileNotFoundError:
            pass


def keep_files(src_fd: int, parent: Path, uid: int = 0, gid: int = 0) -> Path:
    """Copy the plain files of src_fd into a new dir under parent only uid reads: its path."""
    with safefs.opened_dir(parent.parent.parent, create=True, mode=0o755):
        pass  # /var/lib/pws, as everything else there expects it
    safefs.make_dir(parent.parent, KEPT_DIR_MODE, uid, gid)
    safefs.make_dir(parent, KEPT_DIR_MODE, uid, gid)
    with safefs.opened_dir(parent) as parent_fd:
        name = _free_name(parent_fd, "secrets")
        os.mkdir(name, KEPT_DIR_MODE, dir_fd=parent_fd)
        dest_fd = os.open(name, safefs.DIR_FLAGS, dir_fd=parent_fd)
        try:
            for entry in os.scandir(src_fd):
                data = safefs.read_at(src_fd, entry.name)
                if data is not None:
                    safefs.write_at(dest_fd, entry.name, data, KEPT_FILE_MODE, uid, gid)
            os.fsync(dest_fd)
        finally:
            os.close(dest_fd)
    return parent / name


def _free_name(dirfd: int, base: str) -> str:
    """base, or base.2, base.3, ... : an earlier site of the same name keeps its secrets."""
    name, n = base, 1
    while safefs.lstat_at(dirfd, name) is not None:
        n += 1
        name = f"{base}.{n}"
    return name
