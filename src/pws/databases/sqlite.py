"""SQLite: one file in the site's data/ dir, writable only by the site user.

data/ is the site's: whatever is there may be a link to another site's file. So root never
opens it: the tables are dropped by Debian's Python running as the site user (which can only
drop what it could drop itself), and files go by name through the dir's fd (a link goes, never
its target).
"""
from __future__ import annotations

import stat

from .. import runas, safefs
from ..errors import CommandFailed
from ..paths import Paths
from ..site import Site
from ..transaction import Transaction

SYSTEM_PYTHON = "/usr/bin/python3"
FILE = "db.sqlite3"
SIDE_FILES = ("-journal", "-wal", "-shm")
# Run as the site user with the file's path as argv[1]; prints how many tables it dropped.
DROP_TABLES = r'''
import os, sqlite3, stat, sys
path = sys.argv[1]
if not stat.S_ISREG(os.lstat(path).st_mode):
    sys.exit(f"{path} is not a plain file: nothing dropped.")
db = sqlite3.connect(f"file:{path}?mode=rw", uri=True)
tables = [r[0] for r in db.execute(
    "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
for table in tables:
    db.execute('DROP TABLE IF EXISTS "%s"' % table.replace('"', '""'))
db.commit()
db.close()
print(len(tables))
'''
# Run as the site user: argv[1] copied into argv[2] with SQLite's online backup (consistent
# while the app writes); prints the destination, or nothing when argv[1] does not exist.
BACKUP = r'''
import os, sqlite3, stat, sys
src, dest = sys.argv[1], sys.argv[2]
try:
    if not stat.S_ISREG(os.lstat(src).st_mode):
        sys.exit(f"{src} is not a plain file: no copy made.")
except FileNotFoundError:
    sys.exit(0)
os.makedirs(os.path.dirname(dest), mode=0o700, exist_ok=True)
source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
target = sqlite3.connect(dest)
source.backup(target)
target.close()
source.close()
print(dest)
'''
SNAPSHOTS = "snapshots"


class SQLite:
    kind = "sqlite"

    def __init__(self, paths: Paths):
        self.paths = paths

    def data_dir(self, site: Site):
        return self.paths.site_home(site.name) / "data"

    def file(self, site: Site):
        return self.data_dir(site) / FILE

    def check(self, site: Site) -> None:
        """SQLite is part of Python: always there; a file left in data/ is the site's own."""

    def create(self, site: Site, tx: Transaction) -> None:
        """Nothing to do: the app creates the file in data/ on first use (migrations)."""

    def _entry(self, site: Site) -> str:
        """What data/db.sqlite3 is, looked at without following links: 'file', 'link', 'other'
        (a link somewhere on the way counts as 'link'), or '' when absent."""
        try:
            with safefs.opened_dir(self.data_dir(site)) as fd:
                st = safefs.lstat_at(fd, FILE)
        except FileNotFoundError:
            return ""
        except safefs.UnsafePath:
            return "link"
        if st is None:
            return ""
        if stat.S_ISREG(st.st_mode):
            return "file"
        return "link" if stat.S_ISLNK(st.st_mode) else "other"

    def exists(self, site: Site) -> bool:
        """Something is at data/db.sqlite3 (a link too: the site's, to drop, never to follow)."""
        return self._entry(site) != ""

    def settings(self, site: Site) -> dict:
        path = str(self.file(site))
        return {"NAME": path, "URL": f"sqlite:///{path}"}

    def python_requirements(self) -> list[str]:
        return []

    def _backup(self, site: Site, src: str, dest: str, problem: str) -> str:
        proc = runas.run_as(site.user, [SYSTEM_PYTHON, "-I", "-c", BACKUP, src, dest],
                            env=runas.base_env(self.paths.site_home(site.name)), cwd="/",
                            problem=problem, fix="see the message above; nothing was changed.")
        return proc.stdout.strip()

    def snapshot(self, site: Site, label: str) -> str:
        dest = self.data_dir(site) / SNAPSHOTS / f"{label}.sqlite3"
        return self._backup(site, str(self.file(site)), str(dest),
                            "Could not copy the SQLite database before migrating:")

    def restore(self, site: Site, snapshot: str) -> None:
        self._backup(site, snapshot, str(self.file(site)), "Could not restore the SQLite database:")

    def drop_tables(self, site: Site) -> str:
        path = self.file(site)
        entry = self._entry(site)
        if not entry:
            return "no SQLite file, no tables"
        if entry != "file":
            return (f"{path} is a {'symbolic link' if entry == 'link' else 'not a plain file'}, "
                    "not the site's database: pws does not follow it; no tables dropped")
        try:
            proc = runas.run_as(site.user, [SYSTEM_PYTHON, "-I", "-c", DROP_TABLES, str(path)],
                                env=runas.base_env(self.paths.site_home(site.name)), cwd="/",
                                timeout=600, problem=f"Could not drop the tables of {path} as "
                                f"{site.user}:", fix="see the message above; the file is kept.")
        except CommandFailed as exc:
            return f"{exc.problem.strip()} Nothing dropped"
        return f"dropped {proc.stdout.strip()} table(s) from {path}"

    def drop_database(self, site: Site) -> str:
        path = self.file(site)
        try:
            with safefs.opened_dir(self.data_dir(site)) as fd:
                removed = [safefs.unlink_at(fd, FILE + suffix) for suffix in ("", *SIDE_FILES)]
        except FileNotFoundError:
            return f"no SQLite file {path}"
        except safefs.UnsafePath:
            return f"{self.data_dir(site)} is a link: pws does not follow it; nothing deleted"
        except IsADirectoryError:
            return f"{path} is a directory, not a database: kept"
        return f"deleted {path}" if removed[0] else f"no SQLite file {path}"

    def drop_owner(self, site: Site) -> str:
        return "SQLite has no owner role"

    def describe(self, site: Site) -> str:
        return f"SQLite database {self.file(site)}"
