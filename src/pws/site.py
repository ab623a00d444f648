"""The site model: /etc/pws/sites/NAME.toml is the one source of truth for a site."""
from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import tomli_w

from . import validate
from .errors import InvalidInput, SiteNotFound
from .fsutil import write_atomic
from .paths import Paths

HEADER = "# PWS site definition. Edit, then run `pws apply {name}` to re-derive everything from it.\n"


@dataclass
class Site:
    name: str
    formula: str
    app: str
    domains: list[str]
    requirements: list[str] = field(default_factory=list)
    static: dict[str, str] = field(default_factory=dict)  # URL prefix -> dir inside the project
    # URL prefix -> dir under the site home that nginx serves as it is (formulae fill it,
    # e.g. Django's STATIC_ROOT and MEDIA_ROOT); `static` dirs are copied there by pws.
    aliases: dict[str, str] = field(default_factory=dict)
    workers: int = 2
    timeout: int = 30
    health_path: str = "/"  # what the health probe requests through the site's socket
    health_timeout: int = 10  # seconds without an answer before the site counts as hung
    idle: int = 0  # minutes without a request before gunicorn stops (0: never; the socket stays)
    database: str = ""  # "", "sqlite" or "postgresql"
    source: str = ""  # where the project was copied from, for the record
    options: dict[str, str] = field(default_factory=dict)  # formula-specific settings

    @property
    def user(self) -> str:
        return f"pws-{self.name}"

    def check(self) -> "Site":
        validate.site_name(self.name)
        if self.app:
            validate.app_spec(self.app)
        self.domains = [validate.domain(d) for d in self.domains]
        if not self.domains:
            raise InvalidInput(f"Site '{self.name}' has no domain.", "add one with --domain.")
        for url, directory in {**self.static, **self.aliases}.items():
            validate.static_mapping(f"{url}={directory}")
        if not self.health_path.startswith("/") or any(c in self.health_path for c in " ;{}\"'"):
            raise InvalidInput(f"health_path {self.health_path!r} is not a plain URL path.",
                               "use e.g. /healthz.")
        if not (1 <= self.health_timeout <= 300 and 0 <= self.idle <= 10080):
            raise InvalidInput(f"Site '{self.name}': health_timeout or idle out of range.",
                               "use 1-300 seconds and 0-10080 minutes.")
        if not (1 <= self.workers <= 64 and 1 <= self.timeout <= 3600):
            raise InvalidInput(f"Site '{self.name}': workers or timeout out of range.",
                               "use 1-64 workers and a timeout of 1-3600 seconds.")
        return self

    def to_toml(self) -> str:
        return HEADER.format(name=self.name) + tomli_w.dumps(asdict(self))

    @classmethod
    def from_toml(cls, text: str, origin: str) -> "Site":
        try:
            data = tomllib.loads(text)
            return cls(**data).check()
        except (tomllib.TOMLDecodeError, TypeError) as exc:
            raise InvalidInput(f"{origin} is not a valid site definition: {exc}.",
                               "fix the file or remove the site with rmsite.") from exc


def load(paths: Paths, name: str) -> Site:
    validate.site_name(name)
    path = paths.site_file(name)
    if not path.exists():
        raise SiteNotFound(f"There is no site '{name}'.", "see `pws list` for the sites there are.")
    return Site.from_toml(path.read_text(), str(path))


def names(paths: Paths) -> list[str]:
    if not paths.sites_dir.is_dir():
        return []
    return sorted(p.stem for p in paths.sites_dir.glob("*.toml"))


def load_all(paths: Paths) -> list[Site]:
    return [load(paths, n) for n in names(paths)]


def save(paths: Paths, site: Site) -> Path:
    path = paths.site_file(site.name)
    write_atomic(path, site.to_toml())
    return path
