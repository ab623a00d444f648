"""Every filesystem path PWS uses, in one place, under an optional root prefix for tests.

Set PWS_ROOT to run against a private tree, PWS_SHARE to use templates and formulae from
elsewhere (the source tree in tests). The packaged defaults follow DESIGN §2.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SOURCE_TREE = Path(__file__).resolve().parents[2]


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
        root = Path(os.environ.get("PWS_ROOT", "/"))
        share = Path(os.environ["PWS_SHARE"]) if "PWS_SHARE" in os.environ else _default_share()
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

    # --- a site's home
    def site_home(self, name: str) -> Path:
        return self._r(f"/srv/pws/{name}")

    def app_dir(self, name: str) -> Path:
        return self.site_home(name) / "app"

    def venv_dir(self, name: str) -> Path:
        return self.site_home(name) / "venv"

    def static_root(self, name: str) -> Path:
        return self.site_home(name) / "static"

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
