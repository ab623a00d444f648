"""Releases (docs/architecture.md): pws deploy / releases / rollback on a Django site whose app
takes 2 s to import, every change under load: a new version with a migration, a version that
does not import, one whose migration fails, rollbacks (with the database put back), an
interrupted deploy, two deploys at once, a deploy from git, and what a site user may touch."""
from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

import container
import site_helpers as sh

HERE = Path(__file__).resolve().parent
HOST = "shop.example.org"
FIGURES: dict[str, str] = {}

MIGRATION_2 = '''from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]
    operations = [migrations.AddField("note", "tag", models.CharField(max_length=20, default=""))]
'''
FAILING_MIGRATION = '''from django.db import migrations


def fail(apps, schema_editor):
    raise RuntimeError("this migration fails on purpose")


class Migration(migrations.Migration):
    dependencies = [("notes", "0002_tag")]
    operations = [migrations.RunPython(fail)]
'''


def version(ct, src: str, name: str, *, migration: bool = False) -> str:
    """A copy of the sample shop at /root/NAME answering 'shop NAME' (2 s to import)."""
    dest = sh.copy_project(ct, "django_shop", f"/root/{name}")
    ct.run(f"sed -i 's/shop is up/shop {name}/' {dest}/notes/views.py")
    ct.run(f"sed -i '1i import time; time.sleep(2)  # a 2 s import' {dest}/shop/wsgi.py")
    if migration:
        ct.write_file(f"{dest}/notes/migrations/0002_tag.py", MIGRATION_2)
        ct.run(f"sed -i 's/    created = /    tag = models.CharField(max_length=20, default=\"\")\\n"
               f"    created = /' {dest}/notes/models.py")
    return dest


def load(ct, seconds: float, path: str = "/", expect: str = "shop ") -> dict:
    proc = ct.run(f"python3 /root/loadclient.py --host {HOST} --path {path} --expect '{expect}' "
                  f"--concurrency 4 --duration {seconds}", timeout=seconds + 120)
    return json.loads(proc.stdout)


def under_load(ct, action, seconds: float = 25) -> tuple[dict, object]:
    """action() two seconds into a load of `seconds` (long enough to outlast it)."""
    figures: dict = {}
    thread = threading.Thread(target=lambda: figures.update(load(ct, seconds)))
    thread.start()
    time.sleep(2)
    start = time.monotonic()
    outcome = action()
    figures["action_s"] = time.monotonic() - start
    thread.join()
    return figures, outcome


def record(name: str, figures: dict) -> None:
    FIGURES[name] = (f"{figures['failed']} failed of {figures['requests']}, "
                     f"max {figures['max_s'] * 1000:.0f} ms, p99 {figures['p99_s'] * 1000:.0f} ms; "
                     f"the command took {figures['action_s']:.2f} s")


def page(ct) -> str:
    return sh.request(ct, HOST).body


def releases(ct) -> str:
    return ct.run("pws releases shop").stdout


def live_id(ct) -> str:
    return ct.run("readlink /srv/pws/shop/current").stdout.strip().removeprefix("releases/")


@pytest.fixture(scope="module")
def shop(ct):
    sh.install_projects(ct)
    ct.copy_in(HERE / "loadclient.py", "/root/loadclient.py")
    version(ct, "django_shop", "v1")
    sh.mksite(ct, f"django shop --from /root/v1 --domain {HOST}")
    assert page(ct) == "shop v1\n"
    assert sh.request(ct, HOST, "/notes/", data="text=before").status == 201
    yield ct
    print("\n[releases] figures measured under load (4 clients, keep-alive, through nginx):")
    for name, text in FIGURES.items():
        print(f"[releases]   {name}: {text}")


def test_mksite_made_release_1_the_same_way(shop):
    ct = shop
    assert live_id(ct) == "1"
    listing = releases(ct)
    assert re.search(r"^\*\s+1\s+\S+\s+root\s+live\s+/root/v1$", listing, re.M), listing
    venv = ct.run("readlink /srv/pws/shop/releases/1/venv").stdout.strip()
    assert re.fullmatch(r"\.\./\.\./venvs/[0-9a-f]{16}", venv), venv
    tree = ct.run("stat -c '%U:%G %a' /srv/pws/shop /srv/pws/shop/releases "
                  "/srv/pws/shop/releases/1 /srv/pws/shop/releases/1/app").stdout.split("\n")
    assert tree[:4] == ["root:pws-shop 755", "root:root 755", "root:root 755",
                        "root:pws-shop 750"], tree


def test_a_new_version_with_a_migration_goes_live_under_load(shop):
    ct = shop
    version(ct, "django_shop", "v2", migration=True)
    figures, out = under_load(ct, lambda: ct.run("pws deploy shop --from /root/v2", timeout=600))
    record("deploy v2 (new migration, 2 s import)", figures)
    assert "copying the database before migrating" in out.stdout, out.stdout
    assert "health gate" in out.stdout and "Release 2 of 'shop' is live" in out.stdout
    assert figures["failed"] == 0, figures
    assert figures["max_s"] < 1.0, figures
    assert page(ct) == "shop v2\n"
    meta = json.loads(ct.read_file("/srv/pws/shop/releases/2/release.json"))
    assert meta["snapshot"] == "/srv/pws/shop/data/snapshots/release-2.sqlite3", meta
    assert ct.exists(meta["snapshot"])
    # Each release has its own collected static files, served through `current`.
    assert sh.request(ct, HOST, "/static/notes/notes.css").status == 200
    assert ct.exists("/srv/pws/shop/releases/1/static/django/notes/notes.css")
    assert sh.request(ct, HOST, "/notes/", data="text=after").status == 201


def test_an_unchanged_deploy_reuses_the_venv(shop):
    ct = shop
    start = time.monotonic()
    out = ct.run("pws deploy shop --from /root/v2", timeout=600).stdout
    FIGURES["deploy of an unchanged project"] = f"{time.monotonic() - start:.1f} s (2 s import)"
    assert "venv unchanged" in out, out
    assert "copying the database" not in out  # nothing to migrate, no copy
    v2, v3 = (ct.run(f"readlink /srv/pws/shop/releases/{n}/venv").stdout for n in (2, 3))
    assert v2 == v3
    assert page(ct) == "shop v2\n"


def test_apply_makes_a_release_of_the_live_code_with_its_own_settings_and_static(shop):
    """The copy of the live release carries its pws_settings.py (and bytecode of it could look
    fresh): the new release must import its own settings, collect into its own static dir,
    and leave the live release's files alone."""
    ct = shop
    before = live_id(ct)
    ct.run("pws apply shop", timeout=600)
    now = live_id(ct)
    assert now != before and page(ct) == "shop v2\n"
    settings = ct.read_file(f"/srv/pws/shop/releases/{now}/app/pws_settings.py")
    assert f"STATIC_ROOT = '/srv/pws/shop/releases/{now}/static/django'" in settings
    for rid in (before, now):
        assert ct.exists(f"/srv/pws/shop/releases/{rid}/static/django/notes/notes.css"), rid
    assert sh.request(ct, HOST, "/static/notes/notes.css").status == 200


def refused(ct, source: str, want: str, name: str) -> None:
    before = live_id(ct)
    figures, proc = under_load(ct, lambda: ct.run(f"pws deploy shop --from {source}",
                                                   check=False, timeout=600))
    record(name, figures)
    assert proc.returncode != 0
    assert want in proc.stderr, proc.stderr
    assert "the live release still serves" in proc.stderr or "fix the project" in proc.stderr
    assert figures["failed"] == 0, figures
    assert live_id(ct) == before and page(ct) == "shop v2\n"
    failed = releases(ct).splitlines()
    assert any(re.search(r"\bfailed\b", line) for line in failed), failed
    leftovers = ct.run("ls /srv/pws/shop/releases").stdout.split()
    for rid in leftovers:  # a refused release keeps its record only, no code
        if json.loads(ct.read_file(f"/srv/pws/shop/releases/{rid}/release.json"))["state"] == "failed":
            assert not ct.exists(f"/srv/pws/shop/releases/{rid}/app")


def test_a_version_that_does_not_import_is_refused_and_the_old_one_serves(shop):
    ct = shop
    version(ct, "django_shop", "broken", migration=True)
    ct.run("sed -i '1i import no_such_module_here' /root/broken/notes/views.py")
    refused(ct, "/root/broken", "No module named 'no_such_module_here'", "deploy refused: import error")


def test_a_version_whose_migration_fails_is_refused(shop):
    ct = shop
    version(ct, "django_shop", "badmig", migration=True)
    ct.write_file("/root/badmig/notes/migrations/0003_fail.py", FAILING_MIGRATION)
    refused(ct, "/root/badmig", "this migration fails on purpose", "deploy refused: failing migration")


def test_a_version_that_answers_500_is_refused_by_the_health_gate(shop):
    ct = shop
    version(ct, "django_shop", "err500", migration=True)
    ct.run("sed -i 's/    return HttpResponse(\"shop err500/    raise RuntimeError(\"home is broken\")\\n"
           "    return HttpResponse(\"shop err500/' /root/err500/notes/views.py")
    refused(ct, "/root/err500", "answered GET / (Host: shop.example.org) with 500",
            "deploy refused: health gate (500)")


def test_rollback_under_load_and_forward_again(shop):
    ct = shop
    figures, out = under_load(ct, lambda: ct.run("pws rollback shop 1", timeout=120), seconds=12)
    record("rollback to release 1", figures)
    assert figures["failed"] == 0, figures
    assert page(ct) == "shop v1\n" and live_id(ct) == "1"
    # Old code on the migrated schema: the extra column has a default, the app still works.
    assert sh.request(ct, HOST, "/notes/").status == 200
    start = time.monotonic()
    ct.run("pws rollback shop 3", timeout=120)
    FIGURES["rollback (app import 2 s)"] = f"{time.monotonic() - start:.2f} s"
    assert page(ct) == "shop v2\n"


def test_rollback_restore_db_puts_the_snapshot_back(shop):
    ct = shop
    refused_answer = ct.run("pws rollback shop 1 --restore-db </dev/null", check=False)
    assert refused_answer.returncode != 0 and "add --yes" in refused_answer.stderr
    assert page(ct) == "shop v2\n"  # nothing changed
    ct.run("pws rollback shop 1 --restore-db --yes", timeout=120)
    assert page(ct) == "shop v1\n"
    notes = json.loads(sh.request(ct, HOST, "/notes/").body)
    assert notes["texts"] == ["before"], notes  # "after" was written once v2 had migrated
    columns = ct.run(["runuser", "-u", "pws-shop", "--", "python3", "-c",
                      "import sqlite3; print([r[1] for r in sqlite3.connect("
                      "'/srv/pws/shop/data/db.sqlite3').execute('pragma table_info(notes_note)')])"]
                     ).stdout
    assert "tag" not in columns, columns
    ct.run("pws deploy shop --from /root/v2", timeout=600)  # migrates again
    assert page(ct) == "shop v2\n"


def test_a_killed_deploy_leaves_the_live_release_and_the_next_cleans_up(shop):
    ct = shop
    before = live_id(ct)
    version(ct, "django_shop", "v4", migration=True)
    ct.run("echo 'sqlparse==0.6.1' >> /root/v4/requirements.txt")  # a new venv: a long build
    ct.run("systemd-run --unit=killed-deploy --collect pws deploy shop --from /root/v4")
    deadline = time.monotonic() + 60
    while not ct.run("ls -d /srv/pws/shop/venvs/*/bin 2>/dev/null | wc -l").stdout.strip() == "2":
        assert time.monotonic() < deadline, "the deploy never started its venv"
        time.sleep(0.1)
    ct.run("systemctl kill --signal=SIGKILL killed-deploy.service", check=False)
    assert live_id(ct) == before and page(ct) == "shop v2\n"
    out = ct.run("pws deploy shop --from /root/v2", timeout=600)
    assert "removed what interrupted deploys left" in out.stderr, out.stderr
    building = [rid for rid in ct.run("ls /srv/pws/shop/releases").stdout.split()
                if json.loads(ct.read_file(f"/srv/pws/shop/releases/{rid}/release.json"))["state"]
                == "building"]
    assert building == []
    assert ct.run("ls /srv/pws/shop/venvs | wc -l").stdout.strip() == "1"  # the half-built one went


def test_a_terminated_deploy_undoes_itself(shop):
    ct = shop
    before = sorted(ct.run("ls /srv/pws/shop/releases").stdout.split())
    ct.run("systemd-run --unit=termed-deploy pws deploy shop --from /root/v4")
    deadline = time.monotonic() + 60
    while not ct.run("ls -d /srv/pws/shop/venvs/*/bin 2>/dev/null | wc -l").stdout.strip() == "2":
        assert time.monotonic() < deadline, "the deploy never started its venv"
        time.sleep(0.1)
    ct.run("systemctl stop termed-deploy.service")
    assert sorted(ct.run("ls /srv/pws/shop/releases").stdout.split()) == before
    assert page(ct) == "shop v2\n"


def test_two_deploys_at_once_never_mix(shop):
    ct = shop
    ct.run("systemd-run --unit=first-deploy pws deploy shop --from /root/v1")
    deadline = time.monotonic() + 30
    while "building" not in releases(ct):  # the first holds the site's lock from here on
        assert time.monotonic() < deadline, releases(ct)
        time.sleep(0.05)
    second = ct.run("pws deploy shop --from /root/v2 --no-wait", check=False)
    assert second.returncode != 0 and "being changed by another pws command" in second.stderr
    ct.run("pws deploy shop --from /root/v2", timeout=600)  # waits for the first, then runs
    assert page(ct) == "shop v2\n"
    states = ct.run("systemctl show -p Result --value first-deploy.service", check=False).stdout
    assert states.strip() in ("success", ""), states


def test_deploy_from_git_is_cloned_by_the_site_user(shop):
    ct = shop
    version(ct, "django_shop", "gitv", migration=True)
    ct.run("cd /root/gitv && git init -q -b main && git -c user.email=t@t -c user.name=t add -A "
           "&& git -c user.email=t@t -c user.name=t commit -qm v && git clone -q --bare /root/gitv "
           "/srv/repo.git && chmod -R o+rX /srv/repo.git")
    out = ct.run("pws deploy shop --git /srv/repo.git --ref main", timeout=600).stdout
    assert "as pws-shop" in out and page(ct) == "shop gitv\n"
    commit = ct.run("git -C /root/gitv rev-parse HEAD").stdout.strip()[:12]
    assert f"git /srv/repo.git@main {commit}" in releases(ct)
    # A repository the site user cannot read is not read by root on its behalf.
    ct.run("cp -a /srv/repo.git /root/private.git && chmod 700 /root")
    proc = ct.run("pws deploy shop --git /root/private.git", check=False, timeout=120)
    assert proc.returncode != 0 and "git could not clone" in proc.stderr, proc.stderr
    assert page(ct) == "shop gitv\n"


def test_a_site_user_cannot_switch_or_plant_releases(shop):
    ct = shop
    live = live_id(ct)
    for cmd in ("ln -sfn releases/1 /srv/pws/shop/current", "mkdir /srv/pws/shop/releases/99",
                "touch /srv/pws/shop/venvs/x", f"rm -rf /srv/pws/shop/releases/{live}",
                f"touch /srv/pws/shop/releases/{live}/app/x"):
        proc = ct.run(["runuser", "-u", "pws-shop", "--", "sh", "-c", cmd], check=False)
        assert proc.returncode != 0, cmd
    # A link the app plants in its own data/ where the snapshot goes is the site's business:
    # the copy is made by the site user, so it can only reach what the site user reaches.
    ct.run(["runuser", "-u", "pws-shop", "--", "sh", "-c",
            "rm -rf /srv/pws/shop/data/snapshots && ln -s /etc /srv/pws/shop/data/snapshots"])
    version(ct, "django_shop", "v5", migration=True)
    ct.write_file("/root/v5/notes/migrations/0003_more.py", MIGRATION_2.replace(
        '"0001_initial"', '"0002_tag"').replace('"tag"', '"more"'))
    ct.run("sed -i 's/    created = /    more = models.CharField(max_length=20, default=\"\")\\n"
           "    created = /' /root/v5/notes/models.py")
    proc = ct.run("pws deploy shop --from /root/v5", check=False, timeout=600)
    assert not ct.exists("/etc/release-6.sqlite3") and not ct.exists("/etc/release-7.sqlite3")
    assert ct.run("ls /etc | grep -c sqlite3", check=False).stdout.strip() == "0"
    assert page(ct).startswith("shop ")  # refused (no write into /etc) or live: both serve
    print(f"\n[releases] deploy with data/snapshots -> /etc: exit {proc.returncode} "
          f"{proc.stderr.strip().splitlines()[-1:] if proc.returncode else ''}")
