"""A site's secrets: /etc/pws/secrets/NAME/, 0700, each file 0600, owned by the site user.

/etc/pws/secrets itself is 0711: each site user can reach its own dir, not list the others.
"""
from __future__ import annotations

import os
import secrets

from . import users
from .fsutil import write_atomic
from .paths import Paths
from .site import Site


class SecretsStore:
    def __init__(self, paths: Paths, site: Site):
        self.dir = paths.secrets_dir(site.name)
        self.user = site.user

    def _own(self, path) -> None:
        if users.exists(self.user):
            uid, gid = users.ids(self.user)
            os.chown(path, uid, gid)

    def put(self, key: str, value: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._own(self.dir)
        path = self.dir / key
        write_atomic(path, value + "\n", 0o600)
        self._own(path)

    def get(self, key: str) -> str:
        path = self.dir / key
        return path.read_text().strip() if path.exists() else ""

    def get_or_make(self, key: str, nbytes: int = 50) -> str:
        return self.get(key) or self._make(key, nbytes)

    def _make(self, key: str, nbytes: int) -> str:
        value = secrets.token_urlsafe(nbytes)
        self.put(key, value)
        return value

    def write_env(self, env: dict[str, str]) -> None:
        """The systemd EnvironmentFile of the site (read by systemd as root)."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._own(self.dir)
        lines = "".join(f"{k}={v}\n" for k, v in sorted(env.items()))
        write_atomic(self.dir / "env", lines, 0o600)
