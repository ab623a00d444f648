"""The web-server interface. nginx implements it now; apache2 and lighttpd are to be siblings."""
from __future__ import annotations

from typing import Protocol

from .errors import PwsError
from .site import Site


class WebServer(Protocol):
    def render(self, site: Site) -> str:
        """The server's configuration for one site."""

    def install(self, site: Site) -> None:
        """Write and enable the site's config, validate, reload; roll back if invalid."""

    def remove(self, name: str) -> PwsError | None:
        """Disable and delete the site's config, reload; the problem if the server's
        configuration fails without it (then nothing was reloaded)."""

    def disable(self, name: str) -> None:
        """Disable the site's config, keeping it (used when pws is removed)."""

    def enable(self, name: str) -> None:
        """Re-enable a kept site config."""

    def taken_domains(self, also_pws_sites: set[str] = frozenset()) -> dict[str, str]:
        """Domains already served by configuration pws did not write (and by the named
        sites' configs): domain -> where."""

    def validate(self) -> None:
        """Raise if the server's whole configuration is invalid."""

    def reload(self) -> None:
        """Apply the configuration without dropping requests."""
