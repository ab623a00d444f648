"""Every filesystem path PWS uses, in one place, under an optional root prefix for tests.

From a source checkout (tests), PWS_ROOT runs against a private tree and PWS_SHARE takes
templates and formulae from elsewhere. The installed tool ignores both: root's paths are never
chosen by whoever set root's environment. The packaged defaults follow docs/architecture.md.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SOURCE_TREE = Path(__file__).resolve().parents[2]
INSTALLED_VENV = Path("/opt/venvs/pws")


def overrides_allowed() -> bool:
    """Environment overrides (PWS_ROOT, PWS_SHARE, PWS_PYTHON) only for a source checkout."""
    return INSTALLED_VENV not in Path(__file__).resolve().parents


def env_override(name: str) -> str | None:
    return os.environ.get(name) if overrides_allowed() else None


def _default_share() -> Path:
    packaged = Path("/usr/share/pws")
    if (packaged / "templates").is_dir():
        return packaged
    return SOURCE_TREE  # running from a checkout: conf/templates, src/pws_formulae


@dataclass(frozen=True)
class Paths:
    root: Path = Path("/")
    share: Path = Path("/usr/share/pws")

    @classmethod
    def from_env(cls) -> "Paths":
        root = Path(env_override("PWS_ROOT") or "/")
        share_override = env_override("PWS_SHARE")
        share = Path(share_override) if share_override else _default_share()
        return cls(root=root, share=share)

    def _r(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    # --- pws configuration and state
    @property
    def etc(self) -> Path:
        return self._r("/etc/pws")

    @property
    def sites_dir(self) -> Path:
        return self.etc / "sites"

    def site_file(self, name: str) -> Path:
        return self.sites_dir / f"{name}.toml"

    def gunicorn_conf(self, name: str) -> Path:
        return self.etc / "gunicorn" / f"{name}.conf.py"

    def secrets_dir(self, name: str) -> Path:
        return self.etc / "secrets" / name

    @property
    def state(self) -> Path:
        return self._r("/var/lib/pws")

    @property
    def nginx_state(self) -> Path:
        return self.state / "nginx"

    @property
    def alerts_dir(self) -> Path:
        return self.state / "alerts"

    @property
    def pip_cache(self) -> Path:
        return self._r("/var/cache/pws/pip")

    def site_pip_cache(self, name: str) -> Path:
        """Each site's own pip cache: a shared one would let one site poison another's wheels."""
        return self.pip_cache / name

    def build_dir(self, name: str) -> Path:
        """Scratch space of a site's build (TMPDIR, the project copy pip builds from)."""
        return self._r(f"/var/cache/pws/build/{name}")

    @property
    def pending_dir(self) -> Path:
        return self.state / "pending"

    def pending_file(self, name: str) -> Path:
        """The journal of a mksite in progress: what it is about to create."""
        return self.pending_dir / f"{name}.json"

    # --- a site's home
    def site_home(self, name: str) -> Path:
        return self._r(f"/srv/pws/{name}")

    # Through the `current` link (root's): for units, nginx and the site's own processes.
    # Root's file operations use a Release's real paths instead (releases.py).
    def current(self, name: str) -> Path:
        return self.site_home(name) / "current"

    def app_dir(self, name: str) -> Path:
        return self.current(name) / "app"

    def venv_dir(self, name: str) -> Path:
        return self.current(name) / "venv"

    def static_root(self, name: str) -> Path:
        return self.current(name) / "static"

    def socket(self, name: str) -> Path:
        return self._r(f"/run/pws/{name}.sock")

    # --- nginx
    @property
    def nginx(self) -> Path:
        return self._r("/etc/nginx")

    def vhost(self, name: str) -> Path:
        return self.nginx / "sites-available" / f"pws-{name}.conf"

    def vhost_link(self, name: str) -> Path:
        return self.nginx / "sites-enabled" / f"pws-{name}.conf"

    def nginx_log(self, name: str, kind: str) -> Path:
        return self._r(f"/var/log/nginx/pws-{name}.{kind}.log")

    # --- shipped data (in a checkout: where the source tree keeps it)
    def _shipped(self, installed: str, in_checkout: str) -> Path:
        return self.share / (in_checkout if self.share == SOURCE_TREE else installed)

    @property
    def templates(self) -> Path:
        return self._shipped("templates", "conf/templates")

    @property
    def errors(self) -> Path:
        return self._shipped("errors", "conf/errors")

    @property
    def formulae(self) -> Path:
        return self._shipped("formulae", "src/pws_formulae")

    # --- systemd
    @property
    def systemd_units(self) -> Path:
        return self._r("/etc/systemd/system")
