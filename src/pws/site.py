"""The site model: /etc/pws/sites/NAME.toml is the one source of truth for a site."""
from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import tomli_w

from . import safefs, validate
from .errors import InvalidInput, PwsError, SiteNotFound
from .fsutil import write_atomic
from .paths import Paths

MAX_FILE = 256 * 1024
FIX = "fix the file or remove the site with rmsite."
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
    keep_releases: int = 5  # earlier releases kept for `pws rollback`, besides the live one
    database: str = ""  # "", "sqlite" or "postgresql"
    source: str = ""  # where the project was copied from, for the record
    options: dict[str, str] = field(default_factory=dict)  # formula-specific settings
    tls: str = ""  # "" (plain HTTP), "acme", "self-signed" or "local-ca": see `pws tls`
    # Run as the site user on each release being built, after the formula's own steps
    # (e.g. `flask init-db`): setup_commands once (the first release that has them),
    # release_commands on every release.
    setup_commands: list[str] = field(default_factory=list)
    release_commands: list[str] = field(default_factory=list)
    # Long-running processes of the site (`pws process`): name -> {command, count}; and
    # scheduled commands (`pws timer`): name -> {on (systemd calendar), command}.
    processes: dict[str, dict] = field(default_factory=dict)
    timers: dict[str, dict] = field(default_factory=dict)
    # The ordinary user whose site this is ("": the admin's); set by pwsd from the caller's
    # peer credentials, never from a request. limits: systemd resource settings of the
    # owner's grant (MemoryMax, CPUQuota, TasksMax), applied to the site's service.
    owner: str = ""
    limits: dict[str, str] = field(default_factory=dict)

    @property
    def user(self) -> str:
        return f"pws-{self.name}"

    def check(self) -> "Site":
        """Validate every field and store it normalised; the only way a Site reaches root's code."""
        _check_types(self)
        validate.site_name(self.name)
        validate.formula_name(self.formula)
        if self.app:
            validate.app_spec(self.app)
        self.domains = validate.domains(self.domains, self.name)
        self.requirements = validate.requirements(self.requirements)
        self.static = validate.dir_mapping(self.static, "static")
        self.aliases = validate.dir_mapping(self.aliases, "aliases")
        validate.health_path(self.health_path)
        for key in validate.INT_RANGES:
            validate.tunable_int(key, getattr(self, key))
        validate.database(self.database)
        validate.source(self.source)
        self.options = validate.options(self.options)
        validate.tls_mode(self.tls)
        validate.commands(self.setup_commands, "setup_commands")
        validate.commands(self.release_commands, "release_commands")
        from . import processes
        self.processes = processes.check_processes(self.processes)
        self.timers = processes.check_timers(self.timers)
        validate.owner(self.owner)
        self.limits = validate.limits(self.limits)
        return self

    def to_toml(self) -> str:
        return HEADER.format(name=self.name) + tomli_w.dumps(asdict(self))

    @classmethod
    def from_toml(cls, text: str, origin: str) -> "Site":
        try:
            return cls(**_fields_of(tomllib.loads(text))).check()
        except (tomllib.TOMLDecodeError, RecursionError) as exc:  # deep nesting: RecursionError
            raise InvalidInput(f"{origin} is not a valid site definition: {exc}.", FIX) from exc
        except InvalidInput as exc:
            raise InvalidInput(f"{origin} is not a valid site definition: {exc.problem}",
                               exc.fix or FIX) from exc


# What each field must be: its type, and how to say so.
_KINDS = {"name": str, "formula": str, "app": str, "domains": list, "requirements": list,
          "static": dict, "aliases": dict, "workers": int, "timeout": int, "health_path": str,
          "health_timeout": int, "idle": int, "keep_releases": int, "database": str,
          "source": str, "options": dict, "tls": str, "setup_commands": list,
          "release_commands": list, "processes": "tables", "timers": "tables",
          "owner": str, "limits": dict}
_REQUIRED = ("name", "formula", "app", "domains")
_SAYS = {str: "a string", int: "a whole number", list: "a list of strings",
         dict: "a table of strings", "tables": "a table of tables"}


def _fields_of(data: dict) -> dict:
    unknown = sorted(set(data) - set(_KINDS))
    if unknown:
        raise InvalidInput(f"unknown key(s) {', '.join(map(repr, unknown))}.",
                           f"use only: {', '.join(_KINDS)}.")
    missing = [key for key in _REQUIRED if key not in data]
    if missing:
        raise InvalidInput(f"missing key(s) {', '.join(missing)}.", f"add {missing[0]} = ...")
    return data


def _check_types(site: Site) -> None:
    for key, kind in _KINDS.items():
        value = getattr(site, key)
        if kind is list:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        elif kind is dict:
            ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in value.items())
        elif kind == "tables":
            ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, dict)
                                                  for k, v in value.items())
        else:
            ok = type(value) is kind  # bool is an int subclass: workers = true is refused
        if not ok:
            raise InvalidInput(f"{key} must be {_SAYS[kind]}, not {_shown(value)}.",
                               f"write {key} as {_SAYS[kind]}.")


def _shown(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60]}{'...' if len(text) > 60 else ''}"


def load(paths: Paths, name: str) -> Site:
    """The validated site NAME: every privileged code path reads a site only through here."""
    validate.site_name(name)
    path = paths.site_file(name)
    data = safefs.read_file(path)
    if data is None:
        raise SiteNotFound(f"There is no site '{name}'.", "see `pws list` for the sites there are.")
    if len(data) > MAX_FILE:
        raise InvalidInput(f"{path} is not a valid site definition: larger than {MAX_FILE} bytes.", FIX)
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path} is not a valid site definition: not UTF-8 ({exc}).", FIX) from exc
    site = Site.from_toml(text, str(path))
    if site.name != name:
        raise InvalidInput(f"{path} is not a valid site definition: it names the site "
                           f"'{site.name}'.", f"set name = \"{name}\" in it.")
    return site


def _stems(paths: Paths) -> list[str]:
    if not paths.sites_dir.is_dir():
        return []
    return sorted(p.stem for p in paths.sites_dir.glob("*.toml"))


def _is_site_name(name: str) -> bool:
    try:
        validate.site_name(name)
        return True
    except InvalidInput:
        return False


def names(paths: Paths) -> list[str]:
    """The names of the site files, only those that are valid site names (a file `...toml`
    must never become a unit or a path): load_valid reports the others."""
    return [name for name in _stems(paths) if _is_site_name(name)]


def load_all(paths: Paths) -> list[Site]:
    """Every site; the first broken site file is an error (see load_valid)."""
    return [load(paths, n) for n in names(paths)]


def load_valid(paths: Paths) -> tuple[list[Site], dict[str, str]]:
    """Every site that loads, and for each site file that does not, its name and the problem:
    one broken file must not hide or break the others."""
    sites, broken = [], {}
    for name in _stems(paths):
        try:
            sites.append(load(paths, name))
        except (PwsError, OSError) as exc:
            broken[shown_name(name)] = str(exc)
    return sites, broken


def shown_name(name: str) -> str:
    """A site file's name as it may be printed (a file name may hold control characters)."""
    return name if name.isprintable() else repr(name)


def save(paths: Paths, site: Site) -> Path:
    """Write the site file; only a valid site is ever written."""
    site.check()
    path = paths.site_file(site.name)
    write_atomic(path, site.to_toml())
    return path
