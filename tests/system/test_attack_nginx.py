"""Issue 9, the nginx side, performed as the attacker would in a booted Debian 12.

A site user plants links in the dirs it writes and nginx must not follow them; the sites'
logs and pws's copy of /etc/nginx must stay out of other users' reach (the deferred install
path too); an HTTP client's forwarding headers must not reach the app as if nginx said them;
a request for a name no site serves must not land on the first pws site.
"""
from __future__ import annotations

import json
import time

import pytest

import container
import site_helpers as sh
from site_helpers import mksite, request

ECHO = '''
import json

def app(environ, start_response):
    seen = {k: v for k, v in environ.items()
            if k.startswith("HTTP_") or k in ("REMOTE_ADDR", "wsgi.url_scheme")}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]
'''
MEDIA = "/srv/pws/a/media"


@pytest.fixture(scope="module")
def sites(ct):
    """a: a Django site (nginx serves its media/ and collected static); b: a WSGI app that
    echoes what it receives."""
    ct.write_file("/root/echo/echo.py", ECHO)
    mksite(ct, "django a --domain a.example.org")
    mksite(ct, "wsgi b --from /root/echo --app echo:app --domain b.example.org")
    assert request(ct, "b.example.org", "/").status == 200  # b's access log has a line now
    return ct


def as_user(ct, user: str, cmd: str, check: bool = True):
    return ct.run(["runuser", "-u", user, "--", "sh", "-c", cmd], check=check)


def mode(ct, path: str) -> str:
    return ct.run(["stat", "-c", "%U:%G %a", path]).stdout.strip()


# ---------------------------------------------------------------- links in media/


@pytest.mark.parametrize("link, target, leaked", [
    ("l", "/var/log/nginx/pws-b.access.log", "GET / HTTP/1.1"),
    ("p", "/etc/passwd", "root:x:0:0"),
    ("logs/pws-b.access.log", "/var/log/nginx", "GET / HTTP/1.1"),  # a linked dir
], ids=["another site's log", "/etc/passwd", "a linked log dir"])
def test_a_site_cannot_publish_files_it_links_to(sites, link, target, leaked):
    ct = sites
    as_user(ct, "pws-a", f"ln -sfn {target} {MEDIA}/{link.split('/')[0]}")
    assert leaked in ct.run(["cat", f"{MEDIA}/{link}"]).stdout  # the link works for root
    response = request(ct, "a.example.org", f"/media/{link}")
    assert response.status in (403, 404), response
    assert leaked not in response.body


def test_a_file_the_site_owns_is_served_but_never_runs_in_its_origin(sites):
    ct = sites
    as_user(ct, "pws-a", f"echo '<script>alert(1)</script>' > {MEDIA}/upload.html")
    response = request(ct, "a.example.org", "/media/upload.html")
    assert response.status == 200 and "<script>" in response.body
    assert response.header("x-content-type-options") == ["nosniff"]
    assert response.header("content-security-policy") == ["default-src 'none'; sandbox"]
    assert "public" in response.header("cache-control")  # the location's own headers all kept
    missing = request(ct, "a.example.org", "/media/nothere.html")
    assert missing.status == 404 and missing.header("x-content-type-options") == ["nosniff"]


def test_django_static_files_are_served_with_nosniff(sites):
    response = request(sites, "a.example.org", "/static/admin/css/base.css")
    assert response.status == 200 and response.body.strip()
    assert response.header("x-content-type-options") == ["nosniff"]
    assert response.header("content-security-policy") == []


# ---------------------------------------------------------------- the sites' logs


def test_site_logs_are_private_to_nginx_and_adm(sites):
    ct = sites
    for name in ("a", "b"):
        for kind in ("access", "error"):
            assert mode(ct, f"/var/log/nginx/pws-{name}.{kind}.log") == "www-data:adm 640"
    denied = as_user(ct, "pws-a", "cat /var/log/nginx/pws-b.access.log", check=False)
    assert denied.returncode != 0 and "Permission denied" in denied.stderr
    assert "GET / HTTP/1.1" not in denied.stdout


def test_a_log_made_0644_by_an_older_pws_is_fixed_by_apply(sites):
    ct = sites
    ct.run("chown root:root /var/log/nginx/pws-b.access.log; "
           "chmod 0644 /var/log/nginx/pws-b.access.log")
    ct.run("pws apply b", timeout=600)
    assert mode(ct, "/var/log/nginx/pws-b.access.log") == "www-data:adm 640"
    assert "GET / HTTP/1.1" in ct.read_file("/var/log/nginx/pws-b.access.log")  # kept


# ---------------------------------------------------------------- pws's copy of /etc/nginx


def assert_state_private(ct) -> None:
    assert mode(ct, "/var/lib/pws/nginx") == "root:root 700"
    loose = ct.run(r"find /var/lib/pws/nginx \( -type d ! -perm 700 \) -o "
                   r"\( -type f ! -perm 600 \)").stdout
    assert loose == ""
    for cmd in ("ls /var/lib/pws/nginx", "cat /var/lib/pws/nginx/phase"):
        denied = as_user(ct, "nobody", cmd, check=False)
        assert denied.returncode != 0 and "Permission denied" in denied.stderr, cmd


def test_the_nginx_snapshot_is_root_only(sites):
    ct = sites
    assert mode(ct, "/var/lib/pws/nginx/base.tar") == "root:root 600"
    assert_state_private(ct)
    denied = as_user(ct, "pws-a", "tar -tf /var/lib/pws/nginx/base.tar", check=False)
    assert denied.returncode != 0 and "Permission denied" in denied.stderr


# ---------------------------------------------------------------- what the client says


def test_client_sent_forwarding_headers_never_reach_the_app(sites):
    spoof = ("-H 'X-Forwarded-For: 6.6.6.6' -H 'Forwarded: for=6.6.6.6;proto=https' "
             "-H 'X-Forwarded-Ssl: on' -H 'X-Forwarded-Protocol: ssl' "
             "-H 'X-Forwarded-Port: 443' -H 'X-Forwarded-Prefix: /evil' -H 'X-Real-IP: 6.6.6.6'")
    response = request(sites, "b.example.org", "/env", extra=spoof)
    assert response.status == 200
    seen = json.loads(response.body)
    assert seen["HTTP_X_FORWARDED_FOR"] == "127.0.0.1" and seen["HTTP_X_REAL_IP"] == "127.0.0.1"
    assert seen["HTTP_X_FORWARDED_PROTO"] == "http" and seen["wsgi.url_scheme"] == "http"
    assert seen["HTTP_X_FORWARDED_HOST"] == "b.example.org"
    for dropped in ("HTTP_FORWARDED", "HTTP_X_FORWARDED_SSL", "HTTP_X_FORWARDED_PROTOCOL",
                    "HTTP_X_FORWARDED_PORT", "HTTP_X_FORWARDED_PREFIX"):
        assert dropped not in seen, seen
    assert "6.6.6.6" not in response.body


# ---------------------------------------------------------------- unknown names


def no_answer(ct, url: str, host: str) -> bool:
    proc = ct.run(["curl", "-sS", "-g", "--max-time", "10", "-H", f"Host: {host}", url],
                  check=False)
    return proc.returncode == 52 and proc.stdout == ""


def addresses(ct) -> list[str]:
    has_v6 = ct.run("test -s /proc/net/if_inet6", check=False).returncode == 0
    return ["http://127.0.0.1/"] + (["http://[::1]/"] if has_v6 else [])


def debian_page(ct, within: float = 10) -> bool:
    """Wait until a name no site serves gets Debian's default page."""
    deadline = time.monotonic() + within
    while True:
        status, body = container.http(ct, "http://127.0.0.1/", host="unknown.example.org")
        if status == 200 and "Welcome to nginx!" in body:
            return True
        assert time.monotonic() < deadline, (status, body)
        time.sleep(0.2)


def test_without_an_admin_default_no_pws_site_answers_unknown_names(sites):
    ct = sites
    default = "/etc/nginx/sites-available/pws-000-default.conf"
    assert not ct.exists(default)  # Debian's default site is the default server
    ct.run("rm /etc/nginx/sites-enabled/default && systemctl reload nginx")
    ct.run("pws apply b", timeout=600)
    assert ct.exists(default) and ct.exists("/etc/nginx/sites-enabled/pws-000-default.conf")
    assert "sites-available/pws-000-default.conf\tf" in ct.read_file(
        "/var/lib/pws/nginx/written.manifest")
    for url in addresses(ct):
        for host in ("unknown.example.org", "127.0.0.1", "[::1]"):
            assert no_answer(ct, url, host), (url, host)
    assert request(ct, "a.example.org", "/static/admin/css/base.css").status == 200
    assert request(ct, "b.example.org", "/").status == 200

    # The admin's default comes back: no clash with pws's, which goes at pws's next write.
    ct.run("ln -s /etc/nginx/sites-available/default /etc/nginx/sites-enabled/default")
    assert ct.run("nginx -t", check=False).returncode == 0
    ct.run("systemctl reload nginx")
    debian_page(ct)  # nginx's reload is asynchronous
    ct.run("pws apply b", timeout=600)
    assert not ct.exists(default)
    assert not ct.exists("/etc/nginx/sites-enabled/pws-000-default.conf")
    assert ct.run("nginx -t", check=False).returncode == 0
    assert debian_page(ct, within=0)


# ---------------------------------------------------------------- rmsite and nginx -t


def test_rmsite_says_when_nginx_cannot_be_reloaded(sites):
    ct = sites
    ct.write_file("/etc/nginx/conf.d/uses-b.conf",
                  "server { listen 8081; location / { proxy_pass http://pws-b; } }\n")
    ct.run("systemctl reload nginx")
    try:
        proc = ct.run("rmsite b --yes --delete-source")
        warnings = [line for line in proc.stderr.splitlines() if line.startswith("warning:")]
        assert warnings == ["warning: nginx was not reloaded after the vhost of b was removed: "
                            "`nginx -t` fails:"], proc.stderr
        assert 'host not found in upstream "pws-b"' in proc.stderr
        assert "Fix: fix the file `nginx -t` names, then run `systemctl reload nginx`." \
            in proc.stderr
        assert "Site 'b' removed." in proc.stdout
    finally:
        ct.run("rm -f /etc/nginx/conf.d/uses-b.conf && nginx -t && systemctl reload nginx")


# ---------------------------------------------------------------- the deferred install


def test_the_deferred_snapshot_is_root_only_too(sites):
    """pws installed while nginx -t fails: the state dir is made then (phase deferred), the
    snapshot later by the first mksite. Neither may be readable by anyone else."""
    ct = sites
    ct.run("rmsite a --yes --delete-source", timeout=300)
    ct.run("apt-get purge -y pws-django pws", timeout=600)
    assert not ct.exists("/var/lib/pws")
    ct.write_file("/etc/nginx/conf.d/broken.conf", "this is not nginx;\n")
    proc = ct.run("apt-get install -y /root/debs/pws_*.deb", timeout=600)
    assert "`nginx -t` fails on your configuration" in proc.stdout + proc.stderr
    assert ct.read_file("/var/lib/pws/nginx/phase") == "deferred\n"
    assert_state_private(ct)
    ct.run("rm /etc/nginx/conf.d/broken.conf")
    mksite(ct, "wsgi c --from /root/echo --app echo:app --domain c.example.org")
    assert ct.exists("/var/lib/pws/nginx/base.tar")
    assert mode(ct, "/var/lib/pws/nginx/base.tar") == "root:root 600"
    assert_state_private(ct)
    assert request(ct, "c.example.org", "/").status == 200
