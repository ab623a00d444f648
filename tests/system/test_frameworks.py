"""Issue 4, frameworks: `mksite django|flask|pyramid`, new and adopted (--from), each served
through nginx in a booted Debian 12 with the .debs installed by apt; static files by nginx;
POSTs that write to the site's database; `pws manage`; bad input leaving nothing behind."""
from __future__ import annotations

import pytest

import site_helpers as sh
from site_helpers import mksite, request

# name -> (mksite arguments, a path, what the app answers there)
SITES = {
    "blog": ("django blog --domain blog.example.org", "/admin/login/", "Django administration"),
    "shop": (f"django shop --from {sh.CT_PROJECTS}/django_shop --domain shop.example.org",
             "/", "shop is up"),
    "web": ("flask web --domain web.example.org", "/", "Flask site web is live"),
    "api": (f"flask api --from {sh.CT_PROJECTS}/flask_api --domain api.example.org",
            "/", "api is up"),
    "pyr": ("pyramid pyr --domain pyr.example.org", "/", "Pyramid site pyr is live"),
    "wiki": (f"pyramid wiki --from {sh.CT_PROJECTS}/pyramid_wiki --domain wiki.example.org",
             "/", "The sample wiki: front page"),
}
PATHS = {"blog": "django, new", "shop": "django, adopted", "web": "flask, new",
         "api": "flask, adopted", "pyr": "pyramid, new", "wiki": "pyramid, adopted"}
# name -> a static file nginx serves, and what the app itself answers for it (status)
STATIC = {
    "blog": ("/static/admin/css/base.css", 404),  # DEBUG is off: Django serves no static files
    "shop": ("/static/notes/notes.css", 404),
    "web": ("/static/style.css", 200),  # Flask serves its static/ too, with other headers
    "api": ("/static/api.css", 200),
    "pyr": ("/static/style.css", 200),  # so does Pyramid's static view
    "wiki": ("/static/wiki.css", 200),
}
SUPERUSER = {"DJANGO_SUPERUSER_USERNAME": "admin", "DJANGO_SUPERUSER_EMAIL": "admin@example.org",
             "DJANGO_SUPERUSER_PASSWORD": "correct-horse-battery-staple"}


@pytest.fixture(scope="module")
def sites(ct):
    sh.install_projects(ct)
    made = {name: mksite(ct, args) for name, (args, _, _) in SITES.items()}
    yield made
    sh.print_timings("test_frameworks")


@pytest.mark.parametrize("name", SITES, ids=[PATHS[n] for n in SITES])
def test_each_path_serves_through_nginx(ct, sites, name):
    _, path, text = SITES[name]
    assert f"Site '{name}' is live" in sites[name].stdout
    response = request(ct, f"{name}.example.org", path)
    assert response.status == 200 and text in response.body
    assert response.header("server")[0].startswith("nginx")


@pytest.mark.parametrize("name", SITES, ids=[PATHS[n] for n in SITES])
def test_static_files_are_served_by_nginx_not_the_app(ct, sites, name):
    path, app_status = STATIC[name]
    by_nginx = request(ct, f"{name}.example.org", path)
    assert by_nginx.status == 200 and by_nginx.body.strip()
    assert "public" in by_nginx.header("cache-control")  # the alias location's header
    assert by_nginx.header("expires")
    by_app = request(ct, f"{name}.example.org", path, via_socket=sh.socket_of(name))
    assert by_app.status == app_status
    assert "public" not in by_app.header("cache-control")


def test_a_post_writes_to_the_django_database(ct, sites):
    first = request(ct, "shop.example.org", "/notes/", data="text=first note")
    second = request(ct, "shop.example.org", "/notes/", data="text=second note")
    assert (first.status, second.status) == (201, 201)
    assert '"count": 2' in second.body
    assert request(ct, "shop.example.org", "/notes/").body == \
        '{"count": 2, "texts": ["first note", "second note"]}'
    out = ct.run(["pws", "manage", "shop", "shell", "-c",
                  "from notes.models import Note; print(Note.objects.count())"]).stdout
    assert out.strip().splitlines()[-1] == "2"


def test_a_post_writes_to_the_flask_database(ct, sites):
    assert request(ct, "api.example.org", "/notes", data="text=hello").status == 201
    count = ct.run(["python3", "-c", "import sqlite3, sys; print(sqlite3.connect(sys.argv[1])"
                    ".execute('select count(*) from notes').fetchone()[0])",
                    "/srv/pws/api/data/db.sqlite3"]).stdout.strip()
    assert count == "1"


def test_the_sqlite_file_is_in_data_writable_only_by_the_site_user(ct, sites):
    out = ct.run("stat -c '%U %a' /srv/pws/shop/data /srv/pws/shop/data/db.sqlite3").stdout.split("\n")
    assert out[0] == "pws-shop 700" and out[1].startswith("pws-shop ")


def test_createsuperuser_and_an_admin_login_post_with_csrf(ct, sites):
    made = ct.run("pws manage blog createsuperuser --noinput", env=SUPERUSER)
    assert "Superuser created successfully." in made.stdout
    # The CSRF dance: the login form's token and cookie, then the POST (writes a session row).
    ct.run("rm -f /tmp/jar && curl -sS -c /tmp/jar -H 'Host: blog.example.org' "
           "http://127.0.0.1/admin/login/ -o /tmp/login.html")
    token = ct.run("sed -n 's/.*name=\"csrfmiddlewaretoken\" value=\"\\([^\"]*\\)\".*/\\1/p' "
                   "/tmp/login.html").stdout.strip()
    assert token
    login = request(ct, "blog.example.org", "/admin/login/?next=/admin/",
                    data=f"csrfmiddlewaretoken={token}&username=admin"
                         f"&password={SUPERUSER['DJANGO_SUPERUSER_PASSWORD']}&next=/admin/",
                    extra="-b /tmp/jar -c /tmp/jar")
    assert login.status == 302 and login.header("location") == ["/admin/"]
    admin = request(ct, "blog.example.org", "/admin/", extra="-b /tmp/jar")
    assert admin.status == 200 and "Site administration" in admin.body
    sessions = ct.run(["pws", "manage", "blog", "shell", "-c",
                       "from django.contrib.sessions.models import Session; "
                       "print(Session.objects.count())"]).stdout.strip().splitlines()[-1]
    assert sessions == "1"


def test_check_deploy_reports_only_https_warnings(ct, sites):
    proc = ct.run("pws manage blog check --deploy")
    print(f"\n`pws manage blog check --deploy` on a new site:\n{proc.stdout}{proc.stderr}")
    assert sh.security_warnings(proc.stdout + proc.stderr) == {
        "security.W004",  # SECURE_HSTS_SECONDS unset
        "security.W008",  # SECURE_SSL_REDIRECT off
        "security.W012",  # SESSION_COOKIE_SECURE off
        "security.W016",  # CSRF_COOKIE_SECURE off
    }
    assert "ERRORS:" not in proc.stdout + proc.stderr


def test_django_settings_are_overridden_not_edited(ct, sites):
    for name in ("shop", "blog"):
        override = f"/srv/pws/{name}/current/app/pws_settings.py"
        assert ct.run(f"stat -c '%U:%G %a' {override}").stdout.strip() == f"root:pws-{name} 640"
        text = ct.read_file(override)
        assert "DEBUG = False" in text and f"ALLOWED_HOSTS = ['{name}.example.org']" in text
        assert f"'http://{name}.example.org'" in text  # CSRF_TRUSTED_ORIGINS
        assert "SECRET_KEY = _f.read()" in text and "django-insecure" not in text
        secret = ct.run(f"stat -c '%U %G %a' /etc/pws/secrets/{name}/secret_key").stdout.strip()
        assert secret == f"root pws-{name} 640"  # the app reads it through its group
    ct.run(f"diff -r -x pws_settings.py -x __pycache__ {sh.CT_PROJECTS}/django_shop /srv/pws/shop/current/app/")
    # DEBUG off: an unknown URL gets the plain 404 page, not Django's debug page.
    missing = request(ct, "shop.example.org", "/no/such/page")
    assert missing.status == 404 and "URLconf" not in missing.body


def test_django_sites_get_a_daily_session_cleanup(ct, sites):
    for name in ("blog", "shop"):
        timer = f"pws-django-clearsessions@{name}.timer"
        assert ct.run(f"systemctl is-enabled {timer}").stdout.strip() == "enabled"
        assert ct.run(f"systemctl is-active {timer}").stdout.strip() == "active"
    ct.run("systemctl start pws-django-clearsessions@blog.service")  # a oneshot: runs it now
    result = ct.run("systemctl show -p Result --value pws-django-clearsessions@blog.service")
    assert result.stdout.strip() == "success"
    timers = ct.run("ls /etc/systemd/system/timers.target.wants/").stdout.split()
    assert not [t for t in timers if t.startswith("pws-django-") and "@blog." not in t
                and "@shop." not in t]  # none for the Flask and Pyramid sites


@pytest.mark.parametrize("name", ["shop", "api", "wiki"])
def test_apply_and_reload_rederive_and_keep_serving(ct, sites, name):
    _, path, text = SITES[name]
    ct.run(f"pws apply {name} && pws reload {name}", timeout=600)
    assert text in request(ct, f"{name}.example.org", path).body
    static, _ = STATIC[name]
    assert "public" in request(ct, f"{name}.example.org", static).header("cache-control")


def test_pws_manage_needs_a_django_site(ct, sites):
    proc = ct.run("pws manage api check", check=False)
    assert proc.returncode != 0 and "not a Django site" in proc.stderr


# --- bad input: one clear message, non-zero exit, nothing half-made, other sites untouched

def _two_settings(ct) -> str:
    """The shop with a second settings module and a manage.py that names none."""
    src = sh.copy_project(ct, "django_shop", "/root/bad/two-settings")
    ct.run(f"sed -i '/setdefault/d' {src}/manage.py && mkdir {src}/legacy && "
           f"touch {src}/legacy/__init__.py && cp {src}/shop/settings.py {src}/legacy/settings.py")
    return src


def _bad_requirements(ct) -> str:
    src = sh.copy_project(ct, "django_shop", "/root/bad/requirements")
    ct.run(f"echo no-such-package-pws==1.0 >> {src}/requirements.txt")
    return src


BROKEN_MIGRATION = '''from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("notes", "0001_initial")]
    operations = [migrations.RunSQL("SELECT * FROM no_such_table")]
'''


def _broken_migration(ct) -> str:
    src = sh.copy_project(ct, "django_shop", "/root/bad/migration")
    ct.write_file(f"{src}/notes/migrations/0002_broken.py", BROKEN_MIGRATION)
    return src


P = sh.CT_PROJECTS
BAD = [
    ("django not-a-project", f"django bad --from {P}/flask_api",
     "is not a Django project: looked for a manage.py that uses Django", None),
    ("flask not-a-project", f"flask bad --from {P}/pyramid_wiki",
     "No Flask app found in /root/projects/pyramid_wiki: looked for app, application", None),
    ("pyramid not-a-project", f"pyramid bad --from {P}/django_shop",
     "is not a Pyramid project: looked for an ini file with an [app:main] section", None),
    ("two settings, no hint", "django bad --from {src}",
     "Cannot tell the settings module of /root/bad/two-settings: manage.py names no settings "
     "module, and 2 settings modules were found (legacy.settings, shop.settings)", _two_settings),
    ("bad --settings", f"django bad --from {P}/django_shop --settings shop.nothere",
     "--settings shop.nothere: no such module", None),
    ("failing requirements", "django bad --from {src}",
     "The site's requirements cannot be met: Because no-such-package-pws", _bad_requirements),
    ("broken migration", "django bad --from {src}",
     "manage.py migrate failed: while applying notes.0002_broken: django.db.utils."
     "OperationalError: no such table: no_such_table", _broken_migration),
]


@pytest.mark.parametrize("args, message, prepare", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_one_clear_error_and_leaves_nothing(ct, sites, args, message, prepare):
    src = prepare(ct) if prepare else ""
    before = sh.footprint(ct)
    proc = mksite(ct, args.format(src=src) + " --domain bad.example.org", check=False)
    sh.assert_one_clear_error(proc, message)
    assert sh.footprint(ct) == before
    for name, (_, path, text) in SITES.items():
        assert text in request(ct, f"{name}.example.org", path).body


def test_settings_flag_resolves_two_settings_modules(ct, sites):
    src = _two_settings(ct)
    proc = mksite(ct, f"django two --from {src} --settings shop.settings --domain two.example.org")
    assert "Django settings: shop.settings" in proc.stdout
    assert request(ct, "two.example.org", "/").body == "shop is up\n"
    ct.run("rmsite two --yes --delete-source --drop-database")
    assert not ct.exists("/srv/pws/two")


@pytest.mark.parametrize("name", SITES, ids=[PATHS[n] for n in SITES])
def test_rmsite_removes_each_site(ct, sites, name):
    had_database = ct.exists(f"/srv/pws/{name}/data/db.sqlite3")  # the new Flask and Pyramid
    proc = ct.run(f"rmsite {name} --yes --delete-source --drop-database")  # apps never made one
    assert f"Site '{name}' removed." in proc.stdout
    assert ("deleted /srv/pws/" in proc.stdout) is had_database  # nothing said otherwise
    assert ("table(s)" in proc.stdout) is had_database
    assert not ct.exists(f"/srv/pws/{name}") and not ct.exists(f"/etc/pws/sites/{name}.toml")
    assert f"@{name}." not in ct.run("ls /etc/systemd/system/timers.target.wants/").stdout
    _, path, text = SITES[name]
    assert text not in request(ct, f"{name}.example.org", path).body  # nginx's default server now
