"""What an ordinary user may do through pwsd: /etc/pws/grants/USER.toml (root's, 0640).

A grant names the domains the user may claim (fnmatch patterns: `*.alice.example.org`,
`alice.dev`), how many sites they may own, the resource limits each of their sites gets
(systemd MemoryMax, CPUQuota, TasksMax) and which formulae and database kinds they may use.
"""
from __future__ import annotations

import fnmatch
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import tomli_w

from . import safefs, validate
from .errors import InvalidInput, PwsError
from .fsutil import write_atomic
from .paths import Paths

GROUP = "pws-users"  # may connect to pwsd's socket
MAX_FILE = 64 * 1024
MAX_PATTERNS = 32
_PATTERN = validate._re(r"(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*"
                        r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class NotGranted(PwsError):
    """The caller has no grant, or the grant does not allow the request."""

    exit_code = 3


@dataclass
class Grant:
    user: str
    domains: list[str]
    max_sites: int = 3
    memory: str = ""  # MemoryMax of each site ("" for none)
    cpu: str = ""  # CPUQuota of each site, e.g. "50%"
    tasks: str = ""  # TasksMax of each site
    formulae: list[str] = field(default_factory=list)  # empty: every installed formula
    databases: list[str] = field(default_factory=lambda: ["sqlite"])  # "no database" always

    def check(self) -> "Grant":
        validate.user_name(self.user)
        if not self.domains or len(self.domains) > MAX_PATTERNS:
            raise InvalidInput(f"a grant needs 1 to {MAX_PATTERNS} domain patterns.",
                               "give --domains PATTERN, e.g. '*.alice.example.org'.")
        self.domains = [domain_pattern(p) for p in self.domains]
        if type(self.max_sites) is not int or not 0 <= self.max_sites <= 1000:
            raise InvalidInput(f"max_sites {self.max_sites!r} is not a number from 0 to 1000.",
                               "give --max-sites N.")
        self.limits()  # the grammar of each limit
        for name in self.formulae:
            validate.formula_name(name)
        for kind in self.databases:
            if kind not in validate.DATABASES or not kind:
                raise InvalidInput(f"database kind {kind!r} is unknown.",
                                   "give --db sqlite or --db postgresql.")
        return self

    def limits(self) -> dict[str, str]:
        """The systemd settings of each of the user's sites."""
        wanted = {"MemoryMax": self.memory, "CPUQuota": self.cpu, "TasksMax": self.tasks}
        return validate.limits({k: v for k, v in wanted.items() if v})

    def allows_domain(self, domain: str) -> bool:
        return any(fnmatch.fnmatchcase(domain.lower(), p) for p in self.domains)


def domain_pattern(value: str) -> str:
    value = value.strip().lower()
    if not _PATTERN.fullmatch(value) or len(value) > 253:
        raise InvalidInput(f"domain pattern {value[:80]!r} is not valid.",
                           "give a domain name, or *.DOMAIN for every name under it.")
    return value


def grant_file(paths: Paths, user: str) -> Path:
    return paths.etc / "grants" / f"{validate.user_name(user)}.toml"


def save(paths: Paths, grant: Grant) -> None:
    grant.check()
    safefs.make_dir(paths.etc / "grants", 0o750, 0, 0)
    write_atomic(grant_file(paths, grant.user), tomli_w.dumps(asdict(grant)), mode=0o640)


def load(paths: Paths, user: str) -> Grant | None:
    path = grant_file(paths, user)
    if not path.exists():
        return None
    text = (safefs.read_file(path, MAX_FILE) or b"").decode("utf-8", "replace")
    try:
        data = tomllib.loads(text)
        return Grant(**data).check()
    except (tomllib.TOMLDecodeError, TypeError, ValueError) as exc:
        raise InvalidInput(f"{path} is not a valid grant: {exc}.",
                           f"fix it, or give it again with `pws grant {user} ...`.") from exc


def load_all(paths: Paths) -> list[Grant]:
    folder = paths.etc / "grants"
    if not folder.is_dir():
        return []
    return [g for g in (load(paths, p.stem) for p in sorted(folder.glob("*.toml"))) if g]


def remove(paths: Paths, user: str) -> bool:
    path = grant_file(paths, user)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


def require(paths: Paths, user: str) -> Grant:
    grant = load(paths, user)
    if grant is None:
        raise NotGranted(f"{user} has no grant to run sites.",
                         f"ask the admin to run `pws grant {user} --domains PATTERN`.")
    return grant
