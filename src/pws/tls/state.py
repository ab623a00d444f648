"""Where TLS things live, and what pws records about each site's certificate.

    /var/lib/pws/acme/                 ACME webroot (root 0755): certbot writes
                                       .well-known/acme-challenge/ there, nginx serves it
    /var/lib/pws/tls/NAME.json         the record (root 0644): mode, names, issuer, expiry,
                                       whether valid HTTPS was served once (HSTS), last failure
    /var/lib/pws/tls/certs/NAME/       self-signed and local-ca pairs (root 0700, key 0600)
    /var/lib/pws/tls/pws-local-ca.crt  the local CA's root, for the admin to distribute
    /var/lib/pws/ca/                   the local CA (root 0700, key 0600)
    /etc/letsencrypt/live/NAME/        ACME certificates (certbot's own)

Nothing here is writable by a site user: every dir is root's and made with safefs.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import safefs, validate
from ..fsutil import write_atomic
from ..paths import Paths
from ..site import Site
from . import MODES, config

EXPIRY_ALERT_DAYS = 20  # certbot renews 30 days ahead: 10 days of failed renewals by then
SELF_RENEW_DAYS = 30  # self-signed and local-ca are renewed by the health pass from here


@dataclass(frozen=True)
class TlsPaths:
    paths: Paths

    @property
    def webroot(self) -> Path:
        return self.paths.state / "acme"

    @property
    def dir(self) -> Path:
        return self.paths.state / "tls"

    def record(self, name: str) -> Path:
        return self.dir / f"{validate.site_name(name)}.json"

    def own_dir(self, name: str) -> Path:
        return self.dir / "certs" / validate.site_name(name)

    @property
    def ca_dir(self) -> Path:
        return self.paths.state / "ca"

    @property
    def ca_public(self) -> Path:
        return self.dir / "pws-local-ca.crt"

    @property
    def letsencrypt(self) -> Path:
        return self.paths.root / "etc" / "letsencrypt"

    def pair(self, name: str, mode: str) -> tuple[Path, Path]:
        """(fullchain, private key) of the site's certificate in that mode."""
        if mode == "acme":
            live = self.letsencrypt / "live" / validate.site_name(name)
            return live / "fullchain.pem", live / "privkey.pem"
        own = self.own_dir(name)
        return own / "fullchain.pem", own / "privkey.pem"

    def chain(self, name: str, mode: str) -> Path:
        if mode == "acme":
            return self.letsencrypt / "live" / validate.site_name(name) / "chain.pem"
        return self.own_dir(name) / "chain.pem"

    def make_dirs(self) -> None:
        safefs.make_dir(self.paths.state, 0o755, 0, 0)
        safefs.make_dir(self.webroot, 0o755, 0, 0)
        safefs.make_dir(self.dir, 0o755, 0, 0)
        safefs.make_dir(self.dir / "certs", 0o700, 0, 0)


@dataclass
class Record:
    mode: str
    names: list[str] = field(default_factory=list)
    issuer: str = ""
    not_after: str = ""  # ISO 8601, UTC
    ocsp: bool = False
    served_valid: bool = False  # nginx served this site's valid certificate once: HSTS may go on
    failure: str = ""  # the last issuance or renewal failure, "" after a success
    alerted: str = ""  # the day (YYYY-MM-DD) an expiry alert was last recorded

    def days_left(self) -> int | None:
        if not self.not_after:
            return None
        expiry = dt.datetime.fromisoformat(self.not_after)
        return (expiry - dt.datetime.now(dt.timezone.utc)).days


def load(paths: Paths, name: str) -> Record | None:
    data = safefs.read_file(TlsPaths(paths).record(name), limit=64 * 1024)
    if data is None:
        return None
    try:
        raw = json.loads(data)
        record = Record(**{k: v for k, v in raw.items() if k in Record.__dataclass_fields__})
    except (ValueError, TypeError):
        return None  # damaged: as if absent; the next issuance writes it anew
    return record if record.mode in MODES else None


def save(paths: Paths, name: str, record: Record) -> None:
    tp = TlsPaths(paths)
    tp.make_dirs()
    write_atomic(tp.record(name), json.dumps(asdict(record), indent=1) + "\n", 0o644)


def remove(paths: Paths, name: str) -> None:
    TlsPaths(paths).record(name).unlink(missing_ok=True)


# --- what nginx and the formulae need
@dataclass(frozen=True)
class VhostFacts:
    cert: Path
    key: Path
    chain: Path | None  # for OCSP stapling; None when the certificate names no responder
    hsts: str  # the Strict-Transport-Security value, "" while it must not be sent


def usable(paths: Paths, site: Site) -> Record | None:
    """The site's record if TLS is on and its certificate files are there, else None."""
    if site.tls not in MODES:
        return None
    record = load(paths, site.name)
    if record is None or record.mode != site.tls or not record.not_after:
        return None
    cert, key = TlsPaths(paths).pair(site.name, site.tls)
    return record if cert.is_file() and key.is_file() else None


def hsts_value(cfg: config.TlsConfig) -> str:
    if cfg.hsts_max_age <= 0:
        return ""
    return f"max-age={cfg.hsts_max_age}; includeSubDomains" + ("; preload" if cfg.hsts_preload else "")


def vhost_facts(paths: Paths, site: Site) -> VhostFacts | None:
    """How nginx serves the site over TLS; None: plain HTTP (TLS off, or no certificate yet)."""
    record = usable(paths, site)
    if record is None:
        return None
    tp = TlsPaths(paths)
    cert, key = tp.pair(site.name, site.tls)
    chain = tp.chain(site.name, site.tls)
    hsts = hsts_value(config.load(paths)) if record.served_valid else ""
    return VhostFacts(cert, key, chain if record.ocsp and chain.is_file() else None, hsts)


@dataclass(frozen=True)
class FrameworkFacts:
    https: bool
    hsts_seconds: int  # 0 while nginx sends no HSTS
    hsts_preload: bool


def framework_facts(paths: Paths, site: Site) -> FrameworkFacts:
    """What the app's settings must say to agree with nginx (Django's SECURE_*, Flask's)."""
    facts = vhost_facts(paths, site)
    if facts is None:
        return FrameworkFacts(False, 0, False)
    cfg = config.load(paths)
    return FrameworkFacts(True, cfg.hsts_max_age if facts.hsts else 0, cfg.hsts_preload)
