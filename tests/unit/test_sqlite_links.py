"""A site's data/db.sqlite3 that is a link (made by the site user) is never followed: not
reported as the site's database file, its tables not dropped, only the link deleted."""
import sqlite3

import pytest

from pws.databases.sqlite import SQLite
from pws.paths import Paths
from pws.site import Site


@pytest.fixture
def two_sites(tmp_path):
    paths = Paths(root=tmp_path)
    for name in ("a", "b"):
        (paths.site_home(name) / "data").mkdir(parents=True)
    victim = paths.site_home("b") / "data" / "db.sqlite3"
    with sqlite3.connect(victim) as db:
        db.execute("CREATE TABLE notes (text)")
        db.execute("INSERT INTO notes VALUES ('b keeps this')")
    db.close()
    site = Site(name="a", formula="wsgi", app="hello:app", domains=["a.example.org"],
                database="sqlite")
    return SQLite(paths), site, victim


def rows(path):
    with sqlite3.connect(path) as db:
        return db.execute("SELECT text FROM notes").fetchall()


def test_a_link_is_not_followed_when_dropping_tables(two_sites):
    db, site, victim = two_sites
    db.file(site).symlink_to(victim)
    assert db.exists(site)  # something of the site's to drop: the link itself
    message = db.drop_tables(site)
    assert "symbolic link" in message and "no tables dropped" in message
    assert rows(victim) == [("b keeps this",)]


def test_dropping_the_database_deletes_the_link_not_its_target(two_sites):
    db, site, victim = two_sites
    db.file(site).symlink_to(victim)
    (db.data_dir(site) / "db.sqlite3-wal").symlink_to(victim)
    assert db.drop_database(site) == f"deleted {db.file(site)}"
    assert not db.file(site).is_symlink() and not db.exists(site)
    assert rows(victim) == [("b keeps this",)]


def test_a_linked_data_dir_is_not_entered(two_sites):
    db, site, victim = two_sites
    data = db.data_dir(site)
    data.rmdir()
    data.symlink_to(victim.parent)
    assert "no tables dropped" in db.drop_tables(site)
    assert "nothing deleted" in db.drop_database(site)
    assert rows(victim) == [("b keeps this",)]


def test_no_file_no_database(two_sites):
    db, site, _ = two_sites
    assert not db.exists(site)
    assert db.drop_tables(site) == "no SQLite file, no tables"
