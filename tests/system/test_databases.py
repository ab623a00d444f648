"""Issue 4, databases: SQLite by default, `--db postgresql` on a real PostgreSQL server in the
booted container (role + database, peer authentication, psycopg from the offline wheelhouse),
a clear error without a server, rollback of what a failed run created, and rmsite's choices
(tables, database, owner; nothing dropped without a yes)."""
from __future__ import annotations

import time

import pytest

import site_helpers as sh
from site_helpers import mksite, pg, request

SHOP = f"{sh.CT_PROJECTS}/django_shop"


def wait_for_postgresql(ct, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while not sh.pg_running(ct):
        assert time.monotonic() < deadline, "PostgreSQL did not come up"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def server(ct):
    """The container's PostgreSQL (the postgresql package is in the image), running."""
    sh.install_projects(ct)
    ct.run("systemctl start postgresql")
    wait_for_postgresql(ct)
    yield ct
    sh.print_timings("test_databases")


@pytest.fixture(scope="module")
def shop(server):
    """The sample Django shop adopted with --db postgresql, with two notes POSTed."""
    ct = server
    made = mksite(ct, f"django shop --from {SHOP} --db postgresql --domain shop.example.org")
    for text in ("first", "second"):
        assert request(ct, "shop.example.org", "/notes/", data=f"text={text}").status == 201
    return made


def test_role_and_database_are_made_owned_by_the_site(ct, shop):
    assert "creating the PostgreSQL database pws-shop owned by role pws-shop" in shop.stdout
    owner = pg(ct, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'pws-shop'")
    assert owner == "pws-shop"
    assert pg(ct, "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles "
                  "WHERE rolname = 'pws-shop'") == "f|f|f"


def test_the_site_user_connects_by_peer_authentication(ct, shop):
    assert pg(ct, "SELECT current_user", db="pws-shop", user="pws-shop") == "pws-shop"
    settings = ct.read_file("/srv/pws/shop/current/app/pws_settings.py")
    assert "'ENGINE': 'django.db.backends.postgresql'" in settings
    assert "PASSWORD" not in settings and "'HOST': '/var/run/postgresql'" in settings


def test_the_password_is_kept_in_the_sites_secrets(ct, shop):
    assert ct.run("stat -c '%U %G %a' /etc/pws/secrets/shop/db_password").stdout.strip() == \
        "root pws-shop 640"


def test_psycopg_was_installed_from_the_offline_wheelhouse(ct, shop):
    version = ct.run(["/srv/pws/shop/current/venv/bin/python", "-c",
                      "import psycopg; print(psycopg.__version__, psycopg.pq.__impl__)"]).stdout
    assert version.split() == ["3.3.9", "binary"]
    assert "no-index" in ct.read_file("/etc/pip.conf")  # the container has no network at all


def test_a_post_writes_to_postgresql(ct, shop):
    assert pg(ct, "SELECT text FROM notes_note ORDER BY id", db="pws-shop", user="pws-shop") == \
        "first\nsecond"
    assert request(ct, "shop.example.org", "/notes/").body == \
        '{"count": 2, "texts": ["first", "second"]}'


def test_a_flask_app_uses_postgresql_through_database_url(ct, server):
    mksite(ct, f"flask apipg --from {sh.CT_PROJECTS}/flask_api --db postgresql "
               "--domain apipg.example.org")
    assert request(ct, "apipg.example.org", "/notes", data="text=x").status == 201
    assert pg(ct, "SELECT count(*) FROM notes", db="pws-apipg", user="pws-apipg") == "1"
    ct.run("rmsite apipg --yes --delete-source --drop-owner")
    assert "pws-apipg" not in sh.pg_names(ct)


# --- failures: one clear message, and the database the run created is dropped again

def test_no_postgresql_running_is_a_clear_error(ct, shop):
    before = sh.footprint(ct)
    stop_postgresql(ct)
    try:
        proc = mksite(ct, f"django nopg --from {SHOP} --db postgresql", check=False)
        sh.assert_one_clear_error(proc, "No PostgreSQL server is running on this machine")
        assert "systemctl start postgresql" in proc.stderr and "--db sqlite" in proc.stderr
        assert "creating the venv" not in proc.stdout  # refused before anything was made
    finally:
        ct.run("systemctl start postgresql")
        wait_for_postgresql(ct)
    assert sh.footprint(ct) == before


def test_a_role_left_by_someone_else_is_refused_and_kept(ct, shop):
    ct.run("runuser -u postgres -- createuser pws-taken")
    before = sh.footprint(ct)
    proc = mksite(ct, f"django taken --from {SHOP} --db postgresql", check=False)
    sh.assert_one_clear_error(proc, "PostgreSQL already has a role or database named pws-taken")
    assert sh.footprint(ct) == before  # the role is still there: this run did not make it
    ct.run("runuser -u postgres -- dropuser pws-taken")


def _with_bad_requirements(ct) -> str:
    src = sh.copy_project(ct, "django_shop", "/root/bad/requirements")
    ct.run(f"echo no-such-package-pws==1.0 >> {src}/requirements.txt")
    return src


def _with_broken_migration(ct) -> str:
    src = sh.copy_project(ct, "django_shop", "/root/bad/migration")
    ct.write_file(f"{src}/notes/migrations/0002_broken.py",
                  "from django.db import migrations\n\n\nclass Migration(migrations.Migration):\n"
                  "    dependencies = [('notes', '0001_initial')]\n"
                  "    operations = [migrations.RunSQL('SELECT * FROM no_such_table')]\n")
    return src


@pytest.mark.parametrize("prepare, message", [
    (_with_bad_requirements, "The site's requirements cannot be met"),
    (_with_broken_migration, "manage.py migrate failed: while applying notes.0002_broken: "
                             'django.db.utils.ProgrammingError: relation "no_such_table" does not exist'),
], ids=["failing requirements", "broken migration"])
def test_a_failed_run_drops_the_database_it_created(ct, shop, prepare, message):
    src = prepare(ct)
    before = sh.footprint(ct)
    proc = mksite(ct, f"django bad --from {src} --db postgresql --domain bad.example.org",
                  check=False)
    assert "creating the PostgreSQL database pws-bad owned by role pws-bad done" in proc.stdout
    sh.assert_one_clear_error(proc, message)
    assert sh.footprint(ct) == before  # no pws-bad role or database, user, files, units
    assert request(ct, "shop.example.org", "/notes/").body.startswith('{"count": 2')


# --- rmsite: tables, database, owner; each a flag; nothing dropped without a yes

def _state(ct, kind: str, name: str) -> str:
    """'absent', 'empty' (no tables) or 'tables' for the site's database; + 'role' for PostgreSQL."""
    if kind == "sqlite":
        path = f"/srv/pws/{name}/data/db.sqlite3"
        if not ct.exists(path):
            return "absent"
        count = ct.run(["python3", "-c", "import sqlite3, sys; print(sqlite3.connect(sys.argv[1])"
                        ".execute(\"select count(*) from sqlite_master where type='table' "
                        "and name not like 'sqlite_%'\")"
                        ".fetchone()[0])", path]).stdout.strip()
        return "tables" if int(count) else "empty"
    role = pg(ct, f"SELECT count(*) FROM pg_roles WHERE rolname = 'pws-{name}'") == "1"
    if pg(ct, f"SELECT count(*) FROM pg_database WHERE datname = 'pws-{name}'") != "1":
        return "absent" + (" role" if role else "")
    tables = pg(ct, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", db=f"pws-{name}")
    return ("tables" if int(tables) else "empty") + (" role" if role else "")


def _cleanup(ct, name: str) -> None:
    ct.run(f"rm -rf /srv/pws/{name}")
    if sh.pg_running(ct):
        ct.run(f"runuser -u postgres -- dropdb --if-exists pws-{name}; "
               f"runuser -u postgres -- dropuser --if-exists pws-{name}")


RMSITE = [  # kind, rmsite flags, what is left of the database
    ("sqlite", "", "tables"),  # no terminal, no flag: nothing is dropped
    ("sqlite", "--yes", "tables"),  # --yes takes the defaults: nothing is dropped
    ("sqlite", "--yes --keep-data", "tables"),
    ("sqlite", "--yes --drop-tables", "empty"),
    ("sqlite", "--yes --drop-database", "absent"),
    ("sqlite", "--yes --drop-owner", "absent"),  # no owner role: drops all there is
    ("postgresql", "", "tables role"),
    ("postgresql", "--yes", "tables role"),
    ("postgresql", "--yes --keep-data", "tables role"),
    ("postgresql", "--yes --drop-tables", "empty role"),
    ("postgresql", "--yes --drop-database", "absent role"),
    ("postgresql", "--yes --drop-owner", "absent"),
]


@pytest.mark.parametrize("kind, flags, left", RMSITE,
                         ids=[f"{k} {f or 'no flag, no terminal'}" for k, f, _ in RMSITE])
def test_rmsite_database_choices(ct, server, kind, flags, left):
    name = f"rm-{kind[:2]}"
    mksite(ct, f"django {name} --from {SHOP} --db {kind}")
    assert request(ct, f"{name}.localhost", "/notes/", data="text=x").status == 201
    assert _state(ct, kind, name).split()[0] == "tables"
    try:
        proc = ct.run(f"rmsite {name} {flags}")
        assert f"Site '{name}' removed." in proc.stdout
        assert _state(ct, kind, name) == left
        assert not ct.exists(f"/etc/pws/sites/{name}.toml")
        assert ct.run(f"getent passwd pws-{name}", check=False).returncode == 2
    finally:
        _cleanup(ct, name)


def _interactive_rmsite(ct, name: str, answers: str):
    """rmsite with a terminal (script(1) gives it one), answering the questions in turn."""
    return ct.run(["script", "-qec", f"rmsite {name}", "/dev/null"], input=answers)


def test_rmsite_asks_tables_then_database_then_owner(ct, server):
    mksite(ct, f"django ask --from {SHOP} --db postgresql")
    try:
        proc = _interactive_rmsite(ct, "ask", "n\ny\ny\nn\n")  # source? tables? database? owner?
        questions = [q for q in ("Delete the source", "Drop the tables", "Drop the database",
                                 "Drop the owner") if q in proc.stdout]
        assert questions == ["Delete the source", "Drop the tables", "Drop the database",
                             "Drop the owner"]
        order = [proc.stdout.index(q) for q in questions]
        assert order == sorted(order)
        assert _state(ct, "postgresql", "ask") == "absent role"
    finally:
        _cleanup(ct, "ask")


def test_rmsite_stops_asking_at_the_first_no(ct, server):
    mksite(ct, f"django ask2 --from {SHOP} --db postgresql")
    try:
        proc = _interactive_rmsite(ct, "ask2", "n\nn\n")
        assert "Drop the tables" in proc.stdout and "Drop the database" not in proc.stdout
        assert _state(ct, "postgresql", "ask2") == "tables role"
    finally:
        _cleanup(ct, "ask2")


def stop_postgresql(ct) -> None:
    """The clusters too: stopping postgresql.service alone returns before its clusters
    (postgresql@VERSION-main, PartOf it) are down, and a query meanwhile meets "the database
    system is shutting down"."""
    ct.run("systemctl stop postgresql 'postgresql@*'")


def test_rmsite_without_a_running_server_drops_nothing_unless_told_to_keep(ct, server):
    mksite(ct, f"django down --from {SHOP} --db postgresql")
    stop_postgresql(ct)
    try:
        before = sh.footprint(ct)
        proc = ct.run("rmsite down --yes --drop-database", check=False)
        assert proc.returncode != 0 and "Traceback" not in proc.stderr
        assert "No PostgreSQL server is running: cannot tell what is left" in proc.stderr
        assert "--keep-data" in proc.stderr
        assert sh.footprint(ct) == before  # refused before anything was removed
        proc = ct.run("rmsite down --yes --keep-data")
        assert "Kept: PostgreSQL database pws-down owned by role pws-down" in proc.stdout
    finally:
        ct.run("systemctl start postgresql")
        wait_for_postgresql(ct)
    assert _state(ct, "postgresql", "down") == "tables role"
    _cleanup(ct, "down")


def test_removing_the_shop_drops_what_it_was_told_to(ct, shop):
    ct.run("rmsite shop --yes --delete-source --drop-owner")
    assert "pws-shop" not in sh.pg_names(ct)
    assert not ct.exists("/srv/pws/shop")
