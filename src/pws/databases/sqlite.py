"""SQLite: one file in the site's data/ dir, writable only by the site user."""
from __future__ import annotations

import sqlite3

from ..paths import Paths
from ..site import Site
from ..transaction import Transaction


class SQLite:
    kind = "sqlite"

    def __init__(self, paths: Paths):
        self.paths = paths

    def file(self, site: Site):
        return self.paths.site_home(site.name) / "data" / "db.sqlite3"

    def check(self, site: Site) -> None:
        """SQLite is part of Python: always there; a file left in data/ is the site's own."""

    def create(self, site: Site, tx: Transaction) -> None:
        """Nothing to do: the app creates the file in data/ on first use (migrations)."""

    def exists(self, site: Site) -> bool:
        return self.file(site).exists()

    def settings(self, site: Site) -> dict:
        path = str(self.file(site))
        return {"NAME": path, "URL": f"sqlite:///{path}"}

    def python_requirements(self) -> list[str]:
        return []

    def drop_tables(self, site: Site) -> str:
        path = self.file(site)
        if not path.exists():
            return "no SQLite file, no tables"
        with sqlite3.connect(path) as db:
            tables = [r[0] for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
            for table in tables:
                db.execute(f'DROP TABLE IF EXISTS "{table}"')
        return f"dropped {len(tables)} table(s) from {path}"

    def drop_database(self, site: Site) -> str:
        path = self.file(site)
        if not path.exists():
            return f"no SQLite file {path}"
        for suffix in ("", "-journal", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        return f"deleted {path}"

    def drop_owner(self, site: Site) -> str:
        return "SQLite has no owner role"

    def describe(self, site: Site) -> str:
        return f"SQLite database {self.file(site)}"
