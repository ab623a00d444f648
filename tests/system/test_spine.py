"""Issue 2 end to end: apt install, mksite wsgi, serve through nginx, survive kill -9,
refuse bad input leaving nothing behind, rmsite leaving nothing behind."""
from __future__ import annotations

import time

import pytest

import container

HELLO = '''
NOT_CALLABLE = 1

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from the app at " + environ["PATH_INFO"].encode()]
'''
ADMIN_SITE = "server { listen 80; server_name admin.example.org; return 200 'admin'; }\n"
MKSITE = "mksite wsgi hello --app hello:app --from /root/hello --domain hello.example.org " \
         "--static /static=static --yes"


def footprint(ct) -> str:
    """Everything a site can leave on the system, as one comparable text."""
    return ct.run(
        "ls /etc/pws/sites /etc/pws/gunicorn /etc/pws/secrets /srv/pws 2>&1; "
        "ls /etc/nginx/sites-available /etc/nginx/sites-enabled; "
        "getent passwd | grep '^pws-' || true; getent group | grep '^pws-' || true; "
        "systemctl list-units --plain --no-legend --state=active,activating,deactivating,failed,"
        "reloading 'pws-site@*' || true; "
        "ls /etc/systemd/system/sockets.target.wants/ 2>/dev/null || true").stdout


def wait_for_page(ct, host: str, want: str, within: float = 20) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within:
        status, body = container.http(ct, "http://127.0.0.1/", host=host)
        if status == 200 and want in body:
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"{host} did not serve {want!r} within {within}s (last: {status} {body!r})")


@pytest.fixture(scope="module")
def hello(ct):
    ct.write_file("/root/hello/hello.py", HELLO)
    ct.write_file("/root/hello/static/style.css", "body { color: teal }\n")
    ct.write_file("/etc/nginx/sites-available/admin.conf", ADMIN_SITE)
    ct.run("ln -s ../sites-available/admin.conf /etc/nginx/sites-enabled/admin.conf && "
           "systemctl reload nginx")
    before = footprint(ct)
    start = time.monotonic()
    made = ct.run(MKSITE, timeout=600)
    print(f"mksite wsgi took {time.monotonic() - start:.1f}s")
    return before, made


def test_mksite_prints_progress_and_the_url(hello):
    _, made = hello
    assert "creating the venv" in made.stdout
    assert "Site 'hello' is live: http://hello.example.org/" in made.stdout


def test_site_is_served_through_nginx_by_gunicorn_as_its_own_user(ct, hello):
    assert container.http(ct, "http://127.0.0.1/page", host="hello.example.org") == (
        200, "hello from the app at /page")
    users = ct.run("ps -o user= -C gunicorn | sort -u").stdout.split()
    assert users == ["pws-hel+"] or users == ["pws-hello"]
    assert ct.run("stat -c '%U:%G %a' /run/pws/hello.sock").stdout.strip() == "root:www-data 660"


def test_static_files_are_served_by_nginx(ct, hello):
    out = ct.run("curl -sS -i -H 'Host: hello.example.org' http://127.0.0.1/static/style.css").stdout
    assert "body { color: teal }" in out and "Cache-Control: public" in out
    assert "hello from the app" not in out


def test_the_admins_site_still_answers(ct, hello):
    assert container.http(ct, "http://127.0.0.1/", host="admin.example.org") == (200, "admin")


def test_pws_list_status_logs(ct, hello):
    listing = ct.run("pws list").stdout
    assert "hello" in listing and "active (running)" in listing and "hello.example.org" in listing
    status = ct.run("pws status hello").stdout
    assert "state:     active (running); socket listening" in status
    assert "memory:" in status and "pid:" in status
    logs = ct.run("pws logs hello -n 20").stdout
    assert "== app (hello) ==" in logs and "pws-hello.access.log" in logs


def test_deploy_then_reload_and_restart_keep_serving_the_new_release(ct, hello):
    ct.run("cp -a /root/hello /root/hello-v2 && "
           "sed -i 's/hello from the app/deployed app/' /root/hello-v2/hello.py")
    out = ct.run("pws deploy hello --from /root/hello-v2", timeout=600)
    assert "Release 2 of 'hello' is live" in out.stdout, out.stdout
    wait_for_page(ct, "hello.example.org", "deployed app", within=5)
    assert ct.run("readlink /srv/pws/hello/current").stdout.strip() == "releases/2"
    assert "release:   2, " in ct.run("pws status hello").stdout
    ct.run("pws reload hello")
    wait_for_page(ct, "hello.example.org", "deployed app")
    pid = ct.run("systemctl show -p MainPID --value pws-site@hello.service").stdout.strip()
    ct.run("pws restart hello")
    wait_for_page(ct, "hello.example.org", "deployed app")
    assert ct.run("systemctl show -p MainPID --value pws-site@hello.service").stdout.strip() != pid


def test_kill_9_of_the_master_is_survived(ct, hello):
    pid = ct.run("systemctl show -p MainPID --value pws-site@hello.service").stdout.strip()
    ct.run(f"kill -9 {pid}")
    took = wait_for_page(ct, "hello.example.org", "app at /", within=30)
    print(f"served again {took:.2f}s after kill -9 of the master")
    deadline = time.monotonic() + 30  # the request may be answered while systemd records the pid
    while ct.run("systemctl show -p MainPID --value pws-site@hello.service").stdout.strip() in (
            "0", pid):
        assert time.monotonic() < deadline, "systemd did not start a new master"
        time.sleep(0.1)
    # ... and until it has told systemd it is up (the next tests compare unit states).
    while ct.run("systemctl is-active pws-site@hello.service", check=False).stdout.strip() != "active":
        assert time.monotonic() < deadline, "the new master never became active"
        time.sleep(0.1)


BAD = [
    ("mksite wsgi ../x --from /root/hello --yes", "not allowed"),
    ("mksite wsgi 'a;b' --from /root/hello --yes", "not allowed"),
    ("mksite wsgi 'A B' --from /root/hello --yes", "not allowed"),
    ("mksite wsgi '' --from /root/hello --yes", "empty"),
    (f"mksite wsgi {'x' * 33} --from /root/hello --yes", "characters long"),
    ("mksite wsgi all --from /root/hello --yes", "reserved"),
    ("mksite wsgi hello --from /root/hello --app hello:app --yes", "exists already"),
    ("mksite wsgi two --from /root/hello --app hello:app --domain hello.example.org --yes",
     "served by the site 'hello'"),
    ("mksite wsgi two --from /root/hello --app hello:app --domain admin.example.org --yes",
     "already served by your nginx config"),
    ("mksite wsgi two --from /root/hello --app hello:app --domain 'x.org;' --yes",
     "not a valid host name"),
    ("mksite wsgi two --from /root/hello --app nothere:app --domain two.example.org --yes",
     "does not import"),
    ("mksite wsgi two --from /root/hello --app hello:NOT_CALLABLE --domain two.example.org --yes",
     "is not callable"),
    ("mksite wsgi two --from /root/hello --app hello:app --domain two.example.org "
     "--requirement no-such-package-pws==1.0 --yes", "no-such-package-pws"),
    ("mksite wsgi two --from /root/nowhere --app hello:app --yes", "no such directory"),
    ("mksite rails two --from /root/hello --yes", "no formula 'rails'"),
    ("runuser -u nobody -- mksite wsgi two --from /root/hello --app hello:app --yes", "needs root"),
    ("rmsite nosuchsite --yes", "no site 'nosuchsite'"),
]


@pytest.mark.parametrize("cmd, message", BAD, ids=[b[1] for b in BAD])
def test_bad_input_is_one_clear_line_and_leaves_nothing(ct, hello, cmd, message):
    before = footprint(ct)
    proc = ct.run(cmd, check=False, timeout=600)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert footprint(ct) == before
    assert container.http(ct, "http://127.0.0.1/", host="hello.example.org")[0] == 200


def test_a_missing_framework_package_is_named(ct, hello):
    ct.run("dpkg -r pws-django")
    try:
        proc = ct.run("mksite django two --yes", check=False)
        assert proc.returncode != 0 and "apt install pws-django" in proc.stderr
    finally:
        ct.run("dpkg -i /root/debs/pws-django_*.deb")


def test_rmsite_keeps_the_source_unless_asked(ct, hello):
    ct.run("mksite wsgi keep --from /root/hello --app hello:app --domain keep.example.org --yes",
           timeout=600)
    ct.run("rmsite keep --yes")
    assert ct.run("stat -c %U /srv/pws/keep/app/hello.py").stdout.strip() == "root"
    assert not ct.exists("/srv/pws/keep/venv")
    assert ct.run("getent passwd pws-keep", check=False).returncode == 2
    ct.run("rm -r /srv/pws/keep")


def test_rmsite_removes_everything_mksite_made(ct, hello):
    before, _ = hello
    ct.run("rmsite hello --yes --delete-source")
    assert footprint(ct) == before
    assert container.http(ct, "http://127.0.0.1/", host="hello.example.org")[1] != "hello"
    assert not ct.exists("/run/pws/hello.sock")
