"""The [tls] table of /etc/pws/pws.toml, read and checked the way defaults.py reads [defaults]:

    [tls]
    mode = "off"              # what new sites get: off (only with mksite --tls), acme, self-signed, local-ca
    acme_server = "https://acme-v02.api.letsencrypt.org/directory"
    email = "admin@example.org"   # the ACME account's contact ("" registers without one)
    acme_ca_bundle = ""       # PEM file of an internal ACME CA (e.g. step-ca) certbot must trust
    hsts_max_age = 31536000   # seconds; 0: never send Strict-Transport-Security
    hsts_preload = false      # add `preload` to the header (only once you mean to submit the domain)
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..defaults import pws_toml_table
from ..errors import InvalidInput
from ..paths import Paths
from . import MODES

LETSENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
_URL = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/%-]*)?")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")
_PATH = re.compile(r"/[A-Za-z0-9._/+-]*")
MAX_AGE_LIMIT = 2 * 365 * 86400


@dataclass(frozen=True)
class TlsConfig:
    mode: str = "off"
    acme_server: str = LETSENCRYPT
    email: str = ""
    acme_ca_bundle: str = ""
    hsts_max_age: int = 31536000
    hsts_preload: bool = False

    def mode_for_on(self) -> str:
        """The mode `pws tls NAME on` and `mksite --tls` use: the configured one, else acme."""
        return self.mode if self.mode in MODES else "acme"


_KINDS = {"mode": str, "acme_server": str, "email": str, "acme_ca_bundle": str,
          "hsts_max_age": int, "hsts_preload": bool}


def load(paths: Paths) -> TlsConfig:
    path = paths.etc / "pws.toml"
    table = pws_toml_table(paths, "tls")
    try:
        return check(table)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: [tls] {exc.problem}", exc.fix) from exc


def check(table: dict) -> TlsConfig:
    unknown = set(table) - set(_KINDS)
    if unknown:
        raise InvalidInput(f"unknown key(s) {', '.join(sorted(map(repr, unknown)))}.",
                           f"use only: {', '.join(_KINDS)}.")
    for key, value in table.items():
        if type(value) is not _KINDS[key]:
            raise InvalidInput(f"{key} must be {_KINDS[key].__name__}, not {value!r}.",
                               f"write {key} as a {_KINDS[key].__name__}.")
    config = TlsConfig(**table)
    _check_values(config)
    return config


def _check_values(c: TlsConfig) -> None:
    if c.mode not in ("off", *MODES):
        raise InvalidInput(f"mode {c.mode!r} is not one of off, {', '.join(MODES)}.",
                           'e.g. mode = "acme".')
    if not _URL.fullmatch(c.acme_server):
        raise InvalidInput(f"acme_server {c.acme_server!r} is not an https URL.",
                           f'e.g. acme_server = "{LETSENCRYPT}".')
    if c.email and not _EMAIL.fullmatch(c.email):
        raise InvalidInput(f"email {c.email!r} is not an e-mail address.",
                           'e.g. email = "admin@example.org", or "" for none.')
    if c.acme_ca_bundle and not (_PATH.fullmatch(c.acme_ca_bundle) and ".." not in
                                 c.acme_ca_bundle.split("/")
                                 and Path(c.acme_ca_bundle).is_file()):
        raise InvalidInput(f"acme_ca_bundle {c.acme_ca_bundle!r} is not an existing PEM file "
                           "given by its absolute path.", "give the CA's PEM file, or \"\".")
    if not 0 <= c.hsts_max_age <= MAX_AGE_LIMIT:
        raise InvalidInput(f"hsts_max_age {c.hsts_max_age} is not between 0 and "
                           f"{MAX_AGE_LIMIT}.", "e.g. hsts_max_age = 31536000 (a year).")
