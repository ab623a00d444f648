"""Issue 9, items 6 and 8, performed in a booted Debian 12 with the .debs installed.

(a) mksite with input that smuggles nginx or pip syntax fails with one clear error and leaves
    nothing behind;
(b) a hand-edited site.toml that smuggles an nginx server block, a path out of the project or
    a pip option makes `pws apply` fail with one clear error; /etc/nginx, /etc/pws and the
    site's home are byte-identical afterwards and the site still serves;
(c) one garbage site file and one app that drips its answer byte by byte do not stop the health
    pass: it ends within the probe deadlines, reports both, says the healthy site is ok, and
    `pws list` still lists every site, the broken one marked broken.
"""
from __future__ import annotations

import time

import pytest

import site_helpers as sh

HELLO = '''
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from " + environ["HTTP_HOST"].encode()]
'''
# The slow-header attack: on /slow the status line and a header are written straight to the
# client socket, one byte a second for a minute; every read of the prober gets a byte in time.
DRIP = '''
import time

def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        sock = environ["gunicorn.socket"]
        for byte in b"HTTP/1.1 200 OK\\r\\nX-Slow: " + b"a" * 60:
            sock.sendall(bytes([byte]))
            time.sleep(1)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"drip"]
'''
SNAPSHOT = (
    "cd / && find etc/nginx etc/pws srv/pws/good -path etc/pws/sites -prune "
    "-o -printf '%p %y %m %u:%g %s %l\\n' | LC_ALL=C sort && "
    "find etc/nginx etc/pws srv/pws/good -path etc/pws/sites -prune -o -type f -print0 "
    "| LC_ALL=C sort -z | xargs -0 sha256sum")


@pytest.fixture(scope="module")
def good(ct):
    ct.write_file("/root/hello/hello.py", HELLO)
    ct.write_file("/root/hello/static/style.css", "body { color: teal }\n")
    sh.mksite(ct, "wsgi good --app hello:app --from /root/hello --domain good.example.org "
                  "--static /static=static")
    assert sh.request(ct, "good.example.org").body == "hello from good.example.org"
    return "good"


# ---------------------------------------------------------------- (a) mksite
MKSITE_ATTACKS = [
    (["--domain", "a\n.example.org"], "is not a valid host name"),
    (["--domain", "x.example.org;}"], "is not a valid host name"),
    (["--domain", "\u212aelvin.example.org"], "is not a valid host name"),
    (["--domain", "x.example.org", "--requirement=--index-url=http://evil/"],
     "is not a plain package requirement"),
    (["--domain", "x.example.org", "--requirement=-e/root/hello"],
     "is not a plain package requirement"),
    (["--domain", "x.example.org", "--requirement", "flask @ http://evil/flask.whl"],
     "is not a plain package requirement"),
    (["--domain", "x.example.org", "--static", "/s=static;} server { listen 81; } #"],
     "not a plain path inside the project"),
]


@pytest.mark.parametrize("extra,message", MKSITE_ATTACKS, ids=[repr(a[-1]) for a, _ in MKSITE_ATTACKS])
def test_mksite_refuses_smuggled_syntax_and_leaves_nothing(ct, good, extra, message):
    before = sh.footprint(ct)
    nginx_before = ct.run(SNAPSHOT).stdout
    proc = ct.run(["mksite", "wsgi", "x", "--app", "hello:app", "--from", "/root/hello", *extra,
                   "--yes"], check=False, timeout=300)
    sh.assert_one_clear_error(proc, message)
    assert sh.footprint(ct) == before
    assert ct.run(SNAPSHOT).stdout == nginx_before


# ---------------------------------------------------------------- (b) pws apply of a hand-edited file
NGINX_BREAKOUT = "static;} server { listen 81; location / { alias /etc/; } #"
FILE_ATTACKS = [
    ("[aliases]", f'[aliases]\n"/evil/" = "{NGINX_BREAKOUT}"', "not a plain path inside the project"),
    ("[static]", f'[static]\n"/evil/" = "{NGINX_BREAKOUT}"', "not a plain path inside the project"),
    ("[static]", '[static]\n"/s;} server { listen 81; } #/" = "static"', "not a plain path prefix"),
    ("[options]", '[options]\nproject_dir = "../../etc"', "options.project_dir '../../etc'"),
    ("[options]", '[options]\nsettings = "x\\nimport os; os.system(\'id\')"', "options.settings"),
    ("requirements = []", 'requirements = ["--index-url=http://evil/"]',
     "is not a plain package requirement"),
    ("requirements = []", 'requirements = ["-r/etc/shadow"]', "is not a plain package requirement"),
    ('domains = [', 'domains = ["a\\n.example.org", ', "is not a valid host name"),
    ("workers = 2", 'workers = "2; rm -rf /"', "workers must be a whole number, not str"),
    ('name = "good"', 'name = "other"', "it names the site 'other'"),
]


@pytest.mark.parametrize("anchor,replacement,message", FILE_ATTACKS,
                         ids=[r.splitlines()[-1][:40] for _, r, _ in FILE_ATTACKS])
def test_apply_of_a_hostile_site_file_changes_nothing(ct, good, anchor, replacement, message):
    path = "/etc/pws/sites/good.toml"
    original = ct.read_file(path)
    assert anchor in original, original
    before = ct.run(SNAPSHOT).stdout
    ct.write_file(path, original.replace(anchor, replacement, 1), mode=0o644)
    try:
        proc = ct.run("pws apply good", check=False, timeout=300)
        assert proc.returncode != 0, proc.stdout
        errors = [line for line in proc.stderr.splitlines() if line.startswith("pws: error:")]
        assert len(errors) == 1 and message in errors[0], proc.stderr
        assert "good.toml is not a valid site definition" in errors[0], proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
        assert ct.run(SNAPSHOT).stdout == before
        assert ct.run("nginx -t", check=False).returncode == 0
        assert ct.run("ss -ltn | grep -c ':81 '", check=False).stdout.strip() == "0"
    finally:
        ct.write_file(path, original, mode=0o644)
    assert sh.request(ct, "good.example.org").body == "hello from good.example.org"


CONFIG_ATTACKS = [("health_path=/x;} server { listen 81; } #", "not a plain URL path"),
                  ("health_path=/x\r\nHost: evil", "not a plain URL path"),
                  ("workers=\u0663", "workers must be a whole number"),
                  ("workers=1_0", "workers must be a whole number"),
                  ("idle=99999", "idle = 99999 is not a whole number from 0 to 10080")]


@pytest.mark.parametrize("setting,message", CONFIG_ATTACKS, ids=[s for s, _ in CONFIG_ATTACKS])
def test_pws_config_checks_values_like_the_site_file(ct, good, setting, message):
    before = ct.run(SNAPSHOT).stdout + ct.read_file("/etc/pws/sites/good.toml")
    proc = ct.run(["pws", "config", "good", setting], check=False, timeout=300)
    assert proc.returncode != 0, proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.startswith("pws: error:")]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert ct.run(SNAPSHOT).stdout + ct.read_file("/etc/pws/sites/good.toml") == before


# ---------------------------------------------------------------- (c) health and list
@pytest.fixture(scope="module")
def drip_and_junk(ct, good):
    ct.write_file("/root/drip/drip.py", DRIP)
    sh.mksite(ct, "wsgi drip --app drip:app --from /root/drip --domain drip.example.org "
                  "--timeout 120")
    ct.run("pws config drip health_path=/slow health_timeout=3", timeout=300)
    ct.write_file("/etc/pws/sites/junk.toml", "this is [not toml\n")
    ct.run("systemctl stop pws-health.timer")  # its passes would take the sites' locks meanwhile
    try:
        yield
    finally:
        ct.run("rm -f /etc/pws/sites/junk.toml; systemctl start pws-health.timer")


def test_one_broken_file_and_one_dripping_app_do_not_stop_the_health_pass(ct, drip_and_junk):
    for host in ("good.example.org", "drip.example.org"):  # both gunicorns running
        assert sh.request(ct, host).status == 200
    alerts_before = ct.run("ls /var/lib/pws/alerts 2>/dev/null | grep -c -- -drip.txt",
                           check=False).stdout.strip()
    start = time.monotonic()
    proc = ct.run("pws health --all", check=False, timeout=120)
    took = time.monotonic() - start
    print(f"\n[timing] pws health --all with a dripping app (health_timeout=3): {took:.1f} s")
    assert took < 15, (took, proc.stdout, proc.stderr)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "good: ok" in proc.stdout, proc.stdout
    assert "pws-health: site junk: not checked:" in proc.stderr, proc.stderr
    assert "junk.toml is not a valid site definition" in proc.stderr, proc.stderr
    assert "pws-health: site drip: no answer to GET /slow within 3s" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    alerts_after = ct.run("ls /var/lib/pws/alerts | grep -c -- -drip.txt", check=False).stdout.strip()
    assert int(alerts_after) == int(alerts_before or 0) + 1
    assert sh.request(ct, "good.example.org").body == "hello from good.example.org"


def test_pws_list_lists_every_site_and_marks_the_broken_one(ct, drip_and_junk):
    proc = ct.run("pws list", check=False)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[1:]}
    assert set(rows) == {"good", "drip", "junk"}, proc.stdout
    assert "good.example.org" in rows["good"] and "drip.example.org" in rows["drip"]
    assert "broken: /etc/pws/sites/junk.toml is not a valid site definition" in rows["junk"]
