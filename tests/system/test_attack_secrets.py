"""Issue 9, items 1, 5 and 11, performed as a hostile site user would, in the booted container:
the secrets dir (planted links, an old layout's site-owned dir), the site's env reaching a root
process, rmsite --drop-tables through a site-made link, the PostgreSQL password in `ps`, another
site's role connecting, and the secrets kept (or not) with the data rmsite keeps."""
from __future__ import annotations

import shlex
import time

import pytest

import site_helpers as sh
from site_helpers import mksite, pg, request

API = f"{sh.CT_PROJECTS}/flask_api"
CANARY = "/etc/canary"
CANARY_TEXT = "root's canary\n"


def as_site(ct, name: str, script: str):
    """The attacker: a shell as the site user pws-NAME."""
    return ct.run(["runuser", "-u", f"pws-{name}", "--", "sh", "-c", script], check=False)


def owners(ct, *paths: str) -> list[str]:
    return ct.run(["stat", "-c", "%U %G %a", *paths]).stdout.split("\n")[:len(paths)]


def secret_files(ct, name: str) -> list[str]:
    return ct.run(f"ls -A /etc/pws/secrets/{name}").stdout.split()


def assert_canary_untouched(ct) -> None:
    assert ct.read_file(CANARY) == CANARY_TEXT
    assert owners(ct, CANARY) == ["root root 644"]


@pytest.fixture(scope="module")
def f(ct):
    """A new Flask site: its secrets dir holds secret_key and env."""
    sh.install_projects(ct)
    ct.write_file(CANARY, CANARY_TEXT)
    ct.run(f"chmod 644 {CANARY}")
    mksite(ct, "flask f --domain f.example.org")
    return "f"


def test_secrets_are_root_owned_and_read_through_the_site_group(ct, f):
    files = sorted(secret_files(ct, f))
    assert files == ["env", "secret_key"]
    assert owners(ct, "/etc/pws/secrets", "/etc/pws/secrets/f") == \
        ["root root 711", "root pws-f 750"]
    assert owners(ct, *(f"/etc/pws/secrets/f/{n}" for n in files)) == ["root pws-f 640"] * 2
    assert as_site(ct, f, "cat /etc/pws/secrets/f/secret_key").returncode == 0
    assert request(ct, "f.example.org").status == 200


def test_the_site_user_cannot_plant_a_link_in_its_secrets_dir(ct, f):
    """The issue's example: `.secret_key.pws-tmp` -> /etc/canary, secret_key replaced by a link;
    `pws apply f` then gave /etc/canary to the site user."""
    plant = as_site(ct, f, f"ln -s {CANARY} /etc/pws/secrets/f/.secret_key.pws-tmp")
    assert plant.returncode != 0 and "Permission denied" in plant.stderr
    replace = as_site(ct, f, f"ln -sf {CANARY} /etc/pws/secrets/f/secret_key")
    assert replace.returncode != 0 and "Permission denied" in replace.stderr
    write = as_site(ct, f, "echo x > /etc/pws/secrets/f/env")
    assert write.returncode != 0 and "Permission denied" in write.stderr
    ct.run("pws apply f", timeout=600)
    assert_canary_untouched(ct)
    assert sorted(secret_files(ct, f)) == ["env", "secret_key"]


def test_an_old_layout_is_taken_back_on_the_next_apply(ct, f):
    """As an older pws left it (dir and files the site user's), with the links it planted."""
    key = ct.read_file("/etc/pws/secrets/f/secret_key")
    ct.run("chown -R pws-f:pws-f /etc/pws/secrets/f && chmod 700 /etc/pws/secrets/f && "
           "chmod 600 /etc/pws/secrets/f/*")
    planted = as_site(ct, f, "cd /etc/pws/secrets/f && "
                             f"ln -s {CANARY} .secret_key.pws-tmp && "
                             f"ln -s {CANARY} .env.pws-tmp && "
                             f"mv env env.old && ln -s {CANARY} env && mkdir sub && "
                             f"ln -s {CANARY} sub/x")
    assert planted.returncode == 0
    assert ct.run("find /etc/pws/secrets/f -type l | wc -l").stdout.strip() == "4"
    ct.run("pws apply f", timeout=600)
    assert_canary_untouched(ct)
    assert owners(ct, "/etc/pws/secrets/f") == ["root pws-f 750"]
    files = sorted(secret_files(ct, f))
    assert files == ["env", "env.old", "secret_key"]  # links and the site's dir gone
    assert owners(ct, *(f"/etc/pws/secrets/f/{n}" for n in files)) == ["root pws-f 640"] * 3
    assert ct.read_file("/etc/pws/secrets/f/secret_key") == key  # the app's key survives
    assert "SECRET_KEY=" in ct.read_file("/etc/pws/secrets/f/env")
    assert request(ct, "f.example.org").status == 200


@pytest.fixture(scope="module")
def dj(ct, f):
    mksite(ct, "django dj --domain dj.example.org")
    return "dj"


def uids_of_processes_with(ct, marker: str, within: float) -> set[str]:
    """While a command runs: the uids of the processes whose environment holds marker."""
    uids: set[str] = set()
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        out = ct.run("for e in /proc/[0-9]*/environ; do "
                     f"grep -qa {shlex.quote(marker)} $e 2>/dev/null && "
                     "awk '/^Uid:/ {print $3}' ${e%environ}status 2>/dev/null; done; true").stdout
        uids |= set(out.split())
        time.sleep(0.05)
    return uids


def test_the_sites_env_reaches_only_the_site_user(ct, dj):
    """The env file (a future `pws env set`) may hold LD_PRELOAD: it must reach no process
    running as root (`runuser` ran as root with it, so a library in it ran as euid 0)."""
    marker = "PWS_ATTACK_MARK=planted"
    ct.run(f"printf '%s\\n' {marker} LD_PRELOAD=/nonexistent/pws-attack.so "
           ">> /etc/pws/secrets/dj/env")
    ct.run("pws manage dj shell -c 'import time; time.sleep(6)' >/dev/null 2>&1 &")
    uids = uids_of_processes_with(ct, marker, within=4)
    site_uid = ct.run("id -u pws-dj").stdout.strip()
    assert uids == {site_uid}  # seen (the check can see it) and only as the site user
    check = ct.run("pws manage dj check", check=False)
    assert check.returncode == 0, check.stderr  # the app still reads its secret_key


# --- item 5: rmsite --drop-tables through a link the site user made

@pytest.fixture(scope="module")
def sqlite_pair(ct, f):
    for name in ("sa", "sb"):
        mksite(ct, f"flask {name} --from {API} --db sqlite --domain {name}.example.org")
        assert request(ct, f"{name}.example.org", "/notes", data="text=x").status == 201
    return "sa", "sb"


def notes_in(ct, name: str) -> str:
    return ct.run(["python3", "-c", "import sqlite3, sys; print(sqlite3.connect(sys.argv[1])"
                   ".execute('select count(*) from notes').fetchone()[0])",
                   f"/srv/pws/{name}/data/db.sqlite3"]).stdout.strip()


def test_drop_tables_does_not_follow_a_site_made_link(ct, sqlite_pair):
    a, b = sqlite_pair
    planted = as_site(ct, a, f"cd /srv/pws/{a}/data && rm db.sqlite3 && "
                             f"ln -s /srv/pws/{b}/data/db.sqlite3 db.sqlite3")
    assert planted.returncode == 0
    proc = ct.run(f"rmsite {a} --drop-tables --keep-source --yes")
    assert "is a symbolic link, not the site's database: pws does not follow it; " \
           "no tables dropped" in proc.stdout
    assert notes_in(ct, b) == "1"
    assert request(ct, f"{b}.example.org", "/notes").status == 200


def test_drop_tables_as_the_site_user_drops_its_own_tables(ct, sqlite_pair):
    _, b = sqlite_pair
    request(ct, f"{b}.example.org", "/notes", data="text=y")
    proc = ct.run(f"rmsite {b} --drop-tables --keep-source --yes")
    assert f"dropped 1 table(s) from /srv/pws/{b}/data/db.sqlite3" in proc.stdout
    assert ct.run(["python3", "-c", "import sqlite3, sys; print(sqlite3.connect(sys.argv[1])"
                   ".execute('select count(*) from sqlite_master').fetchone()[0])",
                   f"/srv/pws/{b}/data/db.sqlite3"]).stdout.strip() == "0"


# --- item 11: the PostgreSQL password and CONNECT

POLL = r'''
import os, subprocess, sys
out = open("/root/mksite.out", "w")
proc = subprocess.Popen(sys.argv[1:], stdout=out, stderr=subprocess.STDOUT)
seen = set()
while proc.poll() is None:
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                seen.add(f.read().replace(b"\0", b" ").decode(errors="replace"))
        except (OSError, ValueError):
            pass
print("\n".join(sorted(seen)))
sys.exit(proc.returncode)
'''


@pytest.fixture(scope="module")
def postgres(ct, f):
    ct.run("systemctl start postgresql")
    deadline = time.monotonic() + 60
    while not sh.pg_running(ct):
        assert time.monotonic() < deadline, "PostgreSQL did not come up"
        time.sleep(0.5)
    ct.write_file("/root/poll_cmdlines.py", POLL)
    cmdlines = ct.run(["python3", "/root/poll_cmdlines.py", "mksite", "flask", "pa", "--from", API,
                       "--db", "postgresql", "--domain", "pa.example.org", "--yes"],
                      timeout=900).stdout
    mksite(ct, f"flask pb --from {API} --db postgresql --domain pb.example.org")
    return cmdlines


def test_the_role_password_is_on_no_command_line(ct, postgres):
    password = ct.read_file("/etc/pws/secrets/pa/db_password").strip()
    assert len(password) >= 24
    psql = [line for line in postgres.splitlines() if " psql " in f" {line} "]
    assert psql, "the poll saw no psql at all: it could not have seen a password"
    assert password not in postgres
    assert "PASSWORD" not in postgres
    assert owners(ct, "/etc/pws/secrets/pa/db_password") == ["root pws-pa 640"]


def test_another_sites_role_cannot_connect(ct, postgres):
    assert pg(ct, "SELECT current_user", db="pws-pa", user="pws-pa") == "pws-pa"
    other = ct.run(["runuser", "-u", "pws-pa", "--", "psql", "-X", "-At", "-d", "pws-pb", "-c",
                    "SELECT 1"], check=False)
    assert other.returncode != 0
    assert 'permission denied for database "pws-pb"' in other.stderr
    assert request(ct, "pb.example.org", "/notes", data="text=x").status == 201  # pb's own role can


# --- item 11: secrets kept with kept data, deleted with it

def test_rmsite_keeping_the_source_keeps_the_secrets(ct, f):
    mksite(ct, "flask kp --domain kp.example.org")
    key = ct.read_file("/etc/pws/secrets/kp/secret_key")
    proc = ct.run("rmsite kp --keep-source --yes")
    kept = "/var/lib/pws/kept/kp/secrets"
    assert kept in proc.stdout
    assert ct.read_file(f"{kept}/secret_key") == key
    assert owners(ct, "/var/lib/pws/kept", kept, f"{kept}/secret_key") == \
        ["root root 700", "root root 700", "root root 600"]
    assert not ct.exists("/etc/pws/secrets/kp")


def test_rmsite_deleting_everything_deletes_the_secrets(ct, f):
    mksite(ct, "flask dl --domain dl.example.org")
    assert ct.exists("/etc/pws/secrets/dl/secret_key")
    ct.run("rmsite dl --delete-source --drop-database --yes")
    assert not ct.exists("/etc/pws/secrets/dl")
    assert not ct.exists("/var/lib/pws/kept/dl")
