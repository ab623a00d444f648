"""The one small interface the TLS commands use: issue, renew, delete, per mode."""
from __future__ import annotations

from typing import Protocol

from ..paths import Paths
from ..site import Site
from . import config
from .acme import AcmeIssuer
from .own import OwnIssuer


class Issuer(Protocol):
    mode: str

    def issue(self, site: Site, force: bool = False) -> None:
        """Make the site's certificate (all its domains) where TlsPaths.pair says; raise
        TlsError with the reason if it cannot be had, leaving the old pair in place."""

    def renew(self, site: Site, force: bool) -> None:
        """Renew it if due (or when forced)."""

    def delete(self, name: str) -> None:
        """Remove the certificate and its key."""


def for_mode(mode: str, paths: Paths, cfg: config.TlsConfig) -> Issuer:
    if mode == "acme":
        return AcmeIssuer(paths, cfg)
    return OwnIssuer(paths, ca=(mode == "local-ca"))
