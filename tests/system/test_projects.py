"""Issue 15: projects as their authors wrote them, in a booted Debian 12 with the .debs.

- a Flask app factory with instance_relative_config, instance/config.py, its SQLite file in
  the instance folder and an `init-db` command run once (a setup command);
- a Django settings package (base, dev, production) with dev as manage.py's default: the
  production module is served, `--settings` chooses, `pws status` says which;
- apps that die at start: mksite and `pws restart` say so within seconds, with the app's own
  error and the fix; the site is removed and nothing stays;
- hostile repos: an `instance` link to /etc, an instance/config.py link to /etc/shadow, a
  crafted settings module in .env.
"""
from __future__ import annotations

import time

import pytest

import site_helpers as sh
from site_helpers import footprint, mksite, request

P = sh.CT_PROJECTS
FAST = 30  # seconds: a boot failure is told well before the 60 s a dead site used to take


@pytest.fixture(scope="module")
def projects(ct):
    sh.install_projects(ct)
    return ct


@pytest.fixture(scope="module")
def notebook(projects):
    ct = projects
    proc = mksite(ct, f"flask notebook --from {P}/flask_instance --domain notebook.example.org "
                      "--setup-command 'flask init-db'")
    return ct, proc


def test_flask_instance_folder_is_data_instance(notebook):
    ct, proc = notebook
    assert "Site 'notebook' is live" in proc.stdout
    assert "setup command: flask init-db" in proc.stdout
    link = ct.run("stat -c '%U %N' /srv/pws/notebook/current/app/instance").stdout
    assert link.startswith("root ") and "-> '/srv/pws/notebook/data/instance'" in link
    body = request(ct, "notebook.example.org", "/").body
    assert "greeting from instance/config.py; notes: 0" in body  # the project's config read


def test_flask_app_writes_its_sqlite_file_in_the_instance_folder(notebook):
    ct, _ = notebook
    assert request(ct, "notebook.example.org", "/notes", data="text=one").status == 201
    assert "notes: 1" in request(ct, "notebook.example.org", "/").body
    owners = ct.run("stat -c '%U %a %n' /srv/pws/notebook/data/instance "
                    "/srv/pws/notebook/data/instance/notebook.sqlite "
                    "/srv/pws/notebook/data/instance/config.py").stdout.splitlines()
    assert owners[0] == "pws-notebook 700 /srv/pws/notebook/data/instance"
    assert all(line.startswith("pws-notebook ") for line in owners)


def test_a_setup_command_runs_once_and_pws_run_env_has_flask_app(notebook):
    ct, _ = notebook
    proc = ct.run("pws apply notebook", timeout=600)
    assert "setup command" not in proc.stdout  # init-db would have emptied the notes
    assert "notes: 1" in request(ct, "notebook.example.org", "/").body
    assert "FLASK_APP=notebook:create_app()" in ct.read_file("/etc/pws/secrets/notebook/env")


def test_pws_status_names_the_instance_folder(notebook):
    ct, _ = notebook
    out = ct.run("pws status notebook").stdout
    assert "instance:  /srv/pws/notebook/data/instance" in out


def test_pws_restart_tells_a_boot_failure_in_seconds(notebook):
    ct, _ = notebook
    crash = "/srv/pws/notebook/data/instance/crash-at-start"
    ct.run(f"runuser -u pws-notebook -- touch {crash}")
    start = time.monotonic()
    proc = ct.run("pws restart notebook", check=False, timeout=120)
    took = time.monotonic() - start
    ct.run(f"rm -f {crash}")
    assert proc.returncode != 0 and took < FAST, (took, proc.stdout, proc.stderr)
    assert "stopped while it started" in proc.stderr
    assert "RuntimeError: crash-at-start found in the instance folder" in proc.stderr
    assert "pws restart notebook" in proc.stderr
    ct.run("pws restart notebook", timeout=120)
    assert "notes: 1" in request(ct, "notebook.example.org", "/").body


def test_pws_deploy_of_an_app_writing_into_its_code_is_refused_fast_with_the_fix(notebook):
    ct, _ = notebook
    ct.run(f"rm -rf /root/writes && cp -r {P}/flask_instance /root/writes && sed -i "
           "'s/^    app = Flask(__name__, instance_relative_config=True)$/&\\n    "
           "open(os.path.join(app.root_path, \"cache.db\"), \"w\")/' "
           "/root/writes/notebook/__init__.py")
    assert 'open(os.path.join(app.root_path, "cache.db"), "w")' in \
        ct.read_file("/root/writes/notebook/__init__.py")
    start = time.monotonic()
    proc = ct.run("pws deploy notebook --from /root/writes", check=False, timeout=600)
    took = time.monotonic() - start
    assert proc.returncode != 0 and took < FAST, (took, proc.stderr)
    assert "PermissionError: [Errno 13] Permission denied: '/srv/pws/notebook/releases/" \
        in proc.stderr
    assert "the app writes into its code directory" in proc.stderr
    assert "the live release still serves" in proc.stderr
    assert "notes: 1" in request(ct, "notebook.example.org", "/").body


def test_a_repo_instance_link_to_etc_is_replaced_not_followed(notebook):
    ct, _ = notebook
    before = ct.run("ls -la /etc | md5sum").stdout
    ct.run(f"rm -rf /root/evil-instance && cp -r {P}/flask_instance /root/evil-instance && "
           "rm -rf /root/evil-instance/instance && ln -s /etc /root/evil-instance/instance")
    proc = ct.run("pws deploy notebook --from /root/evil-instance", timeout=600)
    assert "instance is a link: not followed" in proc.stderr
    link = ct.run("readlink /srv/pws/notebook/current/app/instance").stdout.strip()
    assert link == "/srv/pws/notebook/data/instance"
    assert ct.run("ls -la /etc | md5sum").stdout == before
    assert ct.run("find /etc -user pws-notebook").stdout == ""
    assert "notes: 1" in request(ct, "notebook.example.org", "/").body


def test_links_inside_a_repo_instance_dir_are_not_copied(projects):
    ct = projects
    ct.run(f"rm -rf /root/evil-config && cp -r {P}/flask_instance /root/evil-config && "
           "cd /root/evil-config/instance && rm config.py && ln -s /etc/shadow config.py && "
           "ln -s /etc etc && mkdir sub && ln -s /etc/passwd sub/passwd")
    proc = mksite(ct, "flask evilcfg --from /root/evil-config --domain evilcfg.example.org "
                      "--setup-command 'flask init-db'")
    for name in ("config.py", "etc", "sub/passwd"):
        assert f"instance/{name} is a link: not copied, not followed" in proc.stderr
    listing = ct.run("cd /srv/pws/evilcfg/data/instance && find . | sort").stdout.split()
    assert listing == [".", "./notebook.sqlite", "./sub"]
    assert "greeting from the defaults" in request(ct, "evilcfg.example.org", "/").body
    ct.run("rmsite evilcfg --yes --drop-database", timeout=300)


# --- Django settings
def test_django_serves_the_production_settings_module(projects):
    ct = projects
    mksite(ct, f"django conf --from {P}/django_settings --domain conf.example.org")
    assert request(ct, "conf.example.org", "/").body == \
        "settings: production; email: django.core.mail.backends.smtp.EmailBackend\n"
    assert "settings:  mysite.settings.production" in ct.run("pws status conf").stdout
    ct.run("rmsite conf --yes --drop-database", timeout=300)


def test_django_settings_flag_chooses(projects):
    ct = projects
    mksite(ct, f"django confdev --from {P}/django_settings --domain confdev.example.org "
               "--settings mysite.settings.dev")
    assert request(ct, "confdev.example.org", "/").body.startswith("settings: dev;")
    assert "settings:  mysite.settings.dev" in ct.run("pws status confdev").stdout
    ct.run("rmsite confdev --yes --drop-database", timeout=300)


def test_a_crafted_settings_module_in_env_is_refused_and_nothing_is_made(projects):
    ct = projects
    ct.run(f"rm -rf /root/evil-env && cp -r {P}/django_settings /root/evil-env && "
           "printf 'DJANGO_SETTINGS_MODULE=os;touch /tmp/pwned\\n' > /root/evil-env/.env")
    before = footprint(ct)
    proc = mksite(ct, "django evilenv --from /root/evil-env --domain evilenv.example.org",
                  check=False)
    assert proc.returncode == 2
    assert "sets DJANGO_SETTINGS_MODULE='os;touch /tmp/pwned', which is not a settings module" \
        in proc.stderr
    assert footprint(ct) == before and not ct.exists("/tmp/pwned")


# --- boot failures
@pytest.mark.parametrize("app,expected,fix", [
    ("factories:raises()", "RuntimeError: SMTP_HOST is not configured", "run mksite again"),
    ("factories:writes_code_dir()", "OSError: [Errno 30] Read-only file system",
     "the app writes into its code directory"),
], ids=["raises when built", "writes into its code dir"])
def test_mksite_tells_a_boot_failure_in_seconds(projects, app, expected, fix):
    ct = projects
    before = footprint(ct)
    start = time.monotonic()
    proc = mksite(ct, f"wsgi boom --from {P}/boot_fails --app '{app}' --domain boom.example.org",
                  check=False)
    took = time.monotonic() - start
    assert proc.returncode != 0 and "stopped while it started" in proc.stderr, proc.stderr
    assert expected in proc.stderr and fix in proc.stderr
    assert footprint(ct) == before
    print(f"\n[timing] boot failure told, site removed: {took:.1f} s\n{proc.stderr}")


def test_an_app_that_raises_at_import_is_refused_by_the_import_check(projects):
    ct = projects
    proc = mksite(ct, f"wsgi boom --from {P}/boot_fails --app at_import:app "
                      "--domain boom.example.org", check=False)
    assert proc.returncode != 0
    assert "does not import: ImportError: cannot import name 'Markup'" in proc.stderr


def test_a_flask_src_layout_gets_the_instance_folder_too(projects):
    ct = projects
    proc = mksite(ct, f"flask srcnotes --from {P}/flask_src --domain srcnotes.example.org")
    assert "Site 'srcnotes' is live" in proc.stdout
    body = request(ct, "srcnotes.example.org", "/").body
    assert body.startswith("srcnotes, instance /srv/pws/srcnotes/venvs/")  # sys.prefix/var/
    assert body.endswith("/var/srcnotes-instance\n")
    assert ct.run("stat -c %U /srv/pws/srcnotes/data/instance/started").stdout.strip() == \
        "pws-srcnotes"
    ct.run("rmsite srcnotes --yes --drop-database", timeout=300)
