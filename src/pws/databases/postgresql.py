"""PostgreSQL on this machine: a role and a database per site, both named pws-NAME.

The app connects over the local socket with peer authentication (the OS user pws-NAME is
the role pws-NAME); a password is set too, and kept in the site's secrets, for TCP clients.
"""
from __future__ import annotations

import secrets
import subprocess

from .. import pins
from ..errors import CommandFailed, PwsError
from ..paths import Paths
from ..runner import run
from ..secrets_store import SecretsStore
from ..site import Site
from ..transaction import Transaction

SOCKET_DIR = "/var/run/postgresql"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class PostgreSQL:
    kind = "postgresql"

    def __init__(self, paths: Paths):
        self.paths = paths

    def _psql(self, sql: str, db: str = "postgres") -> str:
        """Run sql as postgres; it goes on stdin, never on a command line (ps shows those)."""
        proc = run(["runuser", "-u", "postgres", "--", "psql", "-X", "-q", "-At", "-v",
                    "ON_ERROR_STOP=1", "-d", db, "-f", "-"], input=sql,
                   problem="PostgreSQL refused:", fix="see the PostgreSQL log.", cwd="/")
        return proc.stdout.strip()

    @staticmethod
    def _server_answers() -> bool:
        try:
            proc = subprocess.run(["pg_isready", "-q", "-h", SOCKET_DIR], capture_output=True)
        except FileNotFoundError as exc:
            raise PwsError("PostgreSQL is not installed on this machine (no pg_isready).",
                           "apt install postgresql.") from exc
        return proc.returncode == 0

    def check(self, site: Site) -> None:
        """Fail clearly, before anything is made: no server, or the site's names are taken."""
        if not self._server_answers():
            raise PwsError(f"No PostgreSQL server is running on this machine (none answers on "
                           f"{SOCKET_DIR}).", "start it (systemctl start postgresql), install it "
                           "(apt install postgresql), or use --db sqlite.")
        if self._exists("role", site.user) or self._exists("db", site.user):
            raise PwsError(f"PostgreSQL already has a role or database named {site.user} "
                           "(kept by an earlier rmsite?).",
                           f"drop them (runuser -u postgres -- dropdb {site.user}; runuser -u "
                           f"postgres -- dropuser {site.user}), or choose another site name.")

    def _exists(self, kind: str, name: str) -> bool:
        table, column = {"role": ("pg_roles", "rolname"), "db": ("pg_database", "datname")}[kind]
        return self._psql(f"SELECT 1 FROM {table} WHERE {column} = '{name}'") == "1"

    def create(self, site: Site, tx: Transaction) -> None:
        self.check(site)
        role = site.user
        password = secrets.token_urlsafe(24)
        tx.on_rollback(f"drop role {role}", lambda: self.drop_owner(site))
        self._psql(f"CREATE ROLE {_ident(role)} LOGIN PASSWORD '{password}'")
        tx.on_rollback(f"drop database {role}", lambda: self.drop_database(site))
        self._psql(f"CREATE DATABASE {_ident(role)} OWNER {_ident(role)}")
        self.restrict_connect(site)
        SecretsStore(self.paths, site).put("db_password", password)

    def restrict_connect(self, site: Site) -> None:
        """Every role may connect to a new database by default: here only its owner may."""
        name = _ident(site.user)
        self._psql(f"REVOKE CONNECT, TEMPORARY ON DATABASE {name} FROM PUBLIC;\n"
                   f"GRANT CONNECT, TEMPORARY ON DATABASE {name} TO {name}")

    def exists(self, site: Site) -> bool:
        if not self._server_answers():
            raise PwsError(f"No PostgreSQL server is running: cannot tell what is left of "
                           f"{self.describe(site)}, nor drop it.",
                           "start it (systemctl start postgresql), or keep it with --keep-data.")
        return self._exists("db", site.user) or self._exists("role", site.user)

    def settings(self, site: Site) -> dict:
        password = SecretsStore(self.paths, site).get("db_password")
        return {"NAME": site.user, "USER": site.user, "PASSWORD": password, "HOST": SOCKET_DIR,
                "URL": f"postgresql://{site.user}@/{site.user}?host={SOCKET_DIR}"}

    def _as_site(self, site: Site, argv: list[str], problem: str):
        from .. import runas
        return runas.run_as(site.user, argv, env=runas.base_env(self.paths.site_home(site.name)),
                            cwd="/", problem=problem, fix="see the message above.")

    def snapshot(self, site: Site, label: str) -> str:
        """pg_dump as the site's own role (peer authentication over the local socket)."""
        directory = self.paths.site_home(site.name) / "data" / "snapshots"
        dest = directory / f"{label}.dump"
        self._as_site(site, ["mkdir", "-p", "-m", "0700", str(directory)], "Could not make "
                      f"{directory}:")
        self._as_site(site, ["pg_dump", "-h", SOCKET_DIR, "-Fc", "-f", str(dest), site.user],
                      "pg_dump could not copy the database before migrating:")
        return str(dest)

    def restore(self, site: Site, snapshot: str) -> None:
        self._as_site(site, ["pg_restore", "-h", SOCKET_DIR, "--clean", "--if-exists",
                             "--no-owner", "-d", site.user, snapshot],
                      "pg_restore could not put the snapshot back:")

    def python_requirements(self) -> list[str]:
        return [pins.PSYCOPG]

    def drop_tables(self, site: Site) -> str:
        if not self._exists("db", site.user) or not self._exists("role", site.user):
            return f"no database or role {site.user}"
        tables = self._psql(f"SELECT count(*) FROM pg_tables WHERE tableowner = '{site.user}'",
                            db=site.user)
        # Everything the role owns in its database: tables, sequences, views, types.
        self._psql(f"DROP OWNED BY {_ident(site.user)}", db=site.user)
        # In case the role owned the public schema (older servers, or an admin's choice).
        self._psql(f"CREATE SCHEMA IF NOT EXISTS public AUTHORIZATION {_ident(site.user)}",
                   db=site.user)
        return f"dropped {tables} table(s) and everything else {site.user} owned in database {site.user}"

    def drop_database(self, site: Site) -> str:
        if not self._exists("db", site.user):
            return f"no database {site.user}"
        self._psql(f"DROP DATABASE {_ident(site.user)} WITH (FORCE)")
        return f"dropped database {site.user}"

    def drop_owner(self, site: Site) -> str:
        if not self._exists("role", site.user):
            return f"no role {site.user}"
        try:
            self._psql(f"DROP ROLE {_ident(site.user)}")
        except CommandFailed as exc:
            raise PwsError(f"Role {site.user} still owns objects: {exc.problem}",
                           "drop its database first (--drop-database).") from exc
        return f"dropped role {site.user}"

    def describe(self, site: Site) -> str:
        return f"PostgreSQL database {site.user} owned by role {site.user}"
