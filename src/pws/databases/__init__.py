"""Site databases behind one small interface: SQLite (a file in data/) and PostgreSQL."""
from __future__ import annotations

from typing import Protocol

from ..errors import InvalidInput
from ..paths import Paths
from ..site import Site
from ..transaction import Transaction

KINDS = ("sqlite", "postgresql")


class Database(Protocol):
    kind: str

    def check(self, site: Site) -> None:
        """Fail clearly, before anything is made: no server, or the site's names taken."""

    def create(self, site: Site, tx: Transaction) -> None:
        """Make the database (and its owner); register their removal with tx."""

    def exists(self, site: Site) -> bool:
        """Whether there is anything of the site's database left to keep or drop."""

    def settings(self, site: Site) -> dict:
        """Connection settings: ENGINE-neutral keys NAME, USER, PASSWORD, HOST, URL."""

    def python_requirements(self) -> list[str]: ...

    def snapshot(self, site: Site, label: str) -> str:
        """A copy of the database now (before a release migrates it), made as the site user
        into its data/snapshots/; its path, or "" if there is nothing to copy yet."""

    def restore(self, site: Site, snapshot: str) -> None:
        """Put a snapshot back (as the site user): writes since it was taken are lost."""

    def drop_tables(self, site: Site) -> str: ...

    def drop_database(self, site: Site) -> str: ...

    def drop_owner(self, site: Site) -> str: ...

    def describe(self, site: Site) -> str: ...


def for_site(site: Site, paths: Paths) -> Database | None:
    if not site.database:
        return None
    if site.database == "sqlite":
        from .sqlite import SQLite
        return SQLite(paths)
    if site.database == "postgresql":
        from .postgresql import PostgreSQL
        return PostgreSQL(paths)
    raise InvalidInput(f"Unknown database '{site.database}'.", f"use one of: {', '.join(KINDS)}.")
