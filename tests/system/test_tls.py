"""Issue 10 end to end: HTTPS through Debian's certbot against Debian's pebble, which validates
HTTP-01 by connecting to the container's nginx on port 80 (PEBBLE_VA_ALWAYS_VALID=0); a
forced renewal under HTTPS load; an ACME refusal that leaves the site on HTTP; self-signed
and local-ca; Django's `check --deploy`; the attacks of a site user; purge."""
from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

import container
from site_helpers import security_warnings

HERE = Path(__file__).resolve().parent
APP = '''
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("served-" + environ.get("HTTP_X_FORWARDED_PROTO", "none") + " "
             + environ["wsgi.url_scheme"]).encode()]
'''
NAMES = ("blog.test", "own.test", "lca.test", "dj.test", "fl.test", "gone.test")
PEBBLE_CONFIG = {"pebble": {
    "listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
    "certificate": "/etc/pebble/localhost.pem", "privateKey": "/etc/pebble/localhost.key",
    "httpPort": 80, "tlsPort": 5001, "ocspResponderURL": "",
    "externalAccountBindingRequired": False}}
PEBBLE_ENV = {"PEBBLE_VA_ALWAYS_VALID": "0", "PEBBLE_VA_NOSLEEP": "1",
              "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"}
PWS_TOML = '''[tls]
acme_server = "https://localhost:14000/dir"
acme_ca_bundle = "/etc/pebble/ca.pem"
email = "admin@example.org"
hsts_max_age = 3600
'''
FIGURES: dict[str, str] = {}


def _pebble(ct) -> None:
    """A CA for pebble's own HTTPS listener, pebble's config, and pebble under systemd."""
    ct.run("mkdir -p /etc/pebble && cd /etc/pebble && "
           "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
           "-keyout ca.key -out ca.pem -days 30 -subj /CN=test-acme-ca "
           "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign && "
           "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
           "-keyout localhost.key -out localhost.csr -subj /CN=localhost && "
           "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > ext.cnf && "
           "openssl x509 -req -in localhost.csr -CA ca.pem -CAkey ca.key -set_serial 7 "
           "-days 30 -extfile ext.cnf -out localhost.pem")
    ct.write_file("/etc/pebble/config.json", json.dumps(PEBBLE_CONFIG))
    setenv = " ".join(f"--setenv={k}={v}" for k, v in PEBBLE_ENV.items())
    ct.run(f"systemd-run --unit=pebble {setenv} /usr/bin/pebble -config /etc/pebble/config.json")
    deadline = time.monotonic() + 30
    while ct.run("curl -sf --cacert /etc/pebble/ca.pem https://localhost:14000/dir",
                 check=False).returncode != 0:
        assert time.monotonic() < deadline, ct.run("journalctl -u pebble -n 30", check=False).stdout
        time.sleep(0.5)


@pytest.fixture(scope="module")
def tls_ct(ct):
    # Names resolve on loopback only; anything else asks a DNS server on 127.0.0.1, where
    # none listens: nothing leaves the container, and an unknown name fails at once.
    ct.run(f"echo '127.0.0.1 {' '.join(NAMES)}' >> /etc/hosts && "
           "echo 'nameserver 127.0.0.1' > /etc/resolv.conf")
    ct.run("find /etc/nginx -printf '%y %m %u %p %l\\n' | sort > /root/nginx-before.txt && "
           "find /etc/nginx -type f -print0 | sort -z | xargs -0 sha256sum > /root/nginx-before.sha")
    _pebble(ct)
    ct.write_file("/etc/pws/pws.toml", PWS_TOML)
    ct.write_file("/root/hello/hello.py", APP)
    ct.copy_in(HERE / "loadclient.py", "/root/loadclient.py")
    yield ct
    print("\n[tls] " + "\n[tls] ".join(f"{k}: {v}" for k, v in FIGURES.items()))


def https(ct, host: str, path: str = "/", extra: str = "-k") -> tuple[int, dict, str]:
    proc = ct.run(f"curl -sS {extra} -D /tmp/h --max-time 10 https://{host}{path}", check=False)
    if proc.returncode != 0:
        return 0, {}, proc.stderr
    head = ct.read_file("/tmp/h")
    status = int(head.split()[1])
    headers = {}
    for line in head.splitlines()[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers, proc.stdout


def plain(ct, host: str, path: str = "/") -> tuple[int, str, str]:
    """(status, Location, body) of GET http://host/path through nginx on 127.0.0.1:80."""
    proc = ct.run(f"curl -sS -o /tmp/b -w '%{{http_code}} %{{redirect_url}}' -H 'Host: {host}' "
                  f"http://127.0.0.1{path}", check=False)
    code, _, location = proc.stdout.partition(" ")
    return int(code or 0), location, ct.read_file("/tmp/b") if ct.exists("/tmp/b") else ""


def served_cert(ct, host: str, fmt: str = "-serial -issuer -subject") -> str:
    return ct.run(f"echo | openssl s_client -connect 127.0.0.1:443 -servername {host} "
                  f"2>/dev/null | openssl x509 -noout {fmt}").stdout


def mksite(ct, name: str, domain: str, extra: str = "", check: bool = True):
    return ct.run(f"mksite wsgi {name} --app hello:app --from /root/hello --domain {domain} "
                  f"{extra} --yes", timeout=600, check=check)


# --- ACME through certbot and pebble
def test_mksite_tls_gets_a_certificate_from_the_acme_server(tls_ct):
    ct = tls_ct
    made = mksite(ct, "blog", "blog.test", "--tls")
    assert "https://blog.test/" in made.stdout
    assert "Pebble" in served_cert(ct, "blog.test")
    status, headers, body = https(ct, "blog.test")
    assert status == 200 and body == "served-https https", body
    assert headers["strict-transport-security"] == "max-age=3600; includeSubDomains"
    renewal = ct.read_file("/etc/letsencrypt/renewal/blog.conf")
    assert "authenticator = webroot" in renewal and "/usr/bin/pws tls-deployed" in renewal
    assert "installer = None" in renewal or "installer" not in renewal  # never the nginx plugin
    # pebble really fetched the token from nginx on port 80 (no always-valid shortcut)
    log = ct.read_file("/var/log/nginx/pws-blog.access.log")
    assert re.search(r'"GET /\.well-known/acme-challenge/\S+ HTTP/1\.1" 200', log), log


def test_http_redirects_to_https_except_the_acme_path(tls_ct):
    ct = tls_ct
    status, location, _ = plain(tls_ct, "blog.test", "/some/page?x=1")
    assert (status, location) == (301, "https://blog.test/some/page?x=1")
    ct.run("mkdir -p /var/lib/pws/acme/.well-known/acme-challenge && "
           "echo token-body > /var/lib/pws/acme/.well-known/acme-challenge/probe-token")
    try:
        status, _, body = plain(ct, "blog.test", "/.well-known/acme-challenge/probe-token")
        assert (status, body.strip()) == (200, "token-body")
    finally:
        ct.run("rm -f /var/lib/pws/acme/.well-known/acme-challenge/probe-token")
    status, headers, _ = https(ct, "blog.test")
    assert "strict-transport-security" in headers
    status, location, _ = plain(ct, "blog.test")
    assert status == 301  # no HSTS on plain HTTP (it would be ignored there anyway)


def test_tls_vhost_settings(tls_ct):
    ct = tls_ct
    vhost = ct.read_file("/etc/nginx/sites-available/pws-blog.conf")
    assert "listen 443 ssl http2;" in vhost
    assert "include /etc/nginx/snippets/pws-tls.conf;" in vhost
    snippet = ct.read_file("/etc/nginx/snippets/pws-tls.conf")
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in snippet and "ssl_session_tickets off;" in snippet
    assert "ssl_stapling" not in vhost  # pebble's certificates name no OCSP responder
    old = ct.run("echo | openssl s_client -connect 127.0.0.1:443 -servername blog.test -tls1_1 "
                 "2>&1", check=False)
    assert old.returncode != 0 or "Cipher is (NONE)" in old.stdout
    h2 = ct.run("curl -sk -o /dev/null -w '%{http_version}' --http2 https://blog.test/").stdout
    assert h2 == "2"
    status = ct.run("pws tls blog").stdout
    assert "acme" in status and "days left" in status and "hsts:      on" in status
    assert "days left" in ct.run("pws status blog").stdout
    manifest = ct.read_file("/var/lib/pws/nginx/written.manifest")
    assert "snippets/pws-tls.conf" in manifest


def test_forced_renewal_under_load_drops_nothing(tls_ct):
    ct = tls_ct
    before = served_cert(ct, "blog.test", "-serial")
    result: dict = {}

    def load():
        proc = ct.run("python3 /root/loadclient.py --tls --addr blog.test --port 443 "
                      "--host blog.test --expect served-https --concurrency 4 --duration 40",
                      timeout=200)
        result.update(json.loads(proc.stdout))

    thread = threading.Thread(target=load)
    thread.start()
    time.sleep(3)
    started = time.monotonic()
    renewed = ct.run("pws tls blog renew --force", timeout=300)
    took = time.monotonic() - started
    assert thread.is_alive(), "the renewal outlasted the load: nothing was measured"
    thread.join()
    after = served_cert(ct, "blog.test", "-serial")
    assert before != after, "the renewed certificate is not the one nginx serves"
    assert "days left" in renewed.stdout
    FIGURES["forced renewal under HTTPS load"] = (
        f"{result['failed']} failed of {result['requests']} (renewal {took:.1f} s, "
        f"p99 {result['p99_s']} s, "
        f"stale keep-alive retries {result['stale_keepalive_retries']})")
    assert result["requests"] > 100 and result["failed"] == 0, result


def test_certbot_deploy_hook_reloads_nginx(tls_ct):
    """What certbot's timer runs: `certbot renew`, whose deploy hook is pws's."""
    ct = tls_ct
    before = served_cert(ct, "blog.test", "-serial")
    ct.run("REQUESTS_CA_BUNDLE=/var/lib/pws/tls/acme-ca-bundle.pem certbot renew "
           "--force-renewal --cert-name blog --non-interactive --no-random-sleep-on-renew", timeout=300)
    assert served_cert(ct, "blog.test", "-serial") != before
    assert "REQUESTS_CA_BUNDLE=/var/lib/pws/tls/acme-ca-bundle.pem" in ct.read_file(
        "/etc/systemd/system/certbot.service.d/pws-acme-ca.conf")


def test_acme_refusal_is_one_line_and_the_site_stays_on_http(tls_ct):
    ct = tls_ct
    vhosts_before = ct.run("sha256sum /etc/nginx/sites-available/* /etc/nginx/snippets/*").stdout
    proc = mksite(ct, "nowhere", "nowhere.test", "--tls", check=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("mksite: error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "nowhere.test" in errors[0] and "stays on http://nowhere.test/" in errors[0]
    assert "lookup nowhere.test" in errors[0], errors[0]  # pebble's own words
    FIGURES["ACME refusal"] = errors[0]
    status, _, body = plain(ct, "nowhere.test")
    assert (status, body) == (200, "served-http http")
    assert 'tls = ""' in ct.read_file("/etc/pws/sites/nowhere.toml")
    assert "443" not in ct.read_file("/etc/nginx/sites-available/pws-nowhere.conf")
    ct.run("nginx -t -q")
    # a second try fails the same way and changes nothing in nginx
    again = ct.run("pws tls nowhere on", check=False)
    assert again.returncode != 0 and again.stderr.count("error:") == 1
    after = ct.run("sha256sum /etc/nginx/sites-available/* /etc/nginx/snippets/*").stdout
    assert [l for l in after.splitlines() if "nowhere" not in l] == \
           [l for l in vhosts_before.splitlines() if "nowhere" not in l]
    ct.run("rmsite nowhere --delete-source --yes")


# --- self-signed and local-ca
def test_self_signed(tls_ct):
    ct = tls_ct
    mksite(ct, "own", "own.test")
    ct.run("pws tls own self-signed")
    cert = served_cert(ct, "own.test", "-issuer -subject")
    issuer, subject = (line.split("=", 1)[1] for line in cert.splitlines()[:2])
    assert issuer == subject and "own.test" in subject
    status, headers, body = https(ct, "own.test")
    assert status == 200 and body == "served-https https"
    assert "strict-transport-security" not in headers  # never HSTS on a self-signed certificate
    key = ct.run("stat -c '%a %U' /var/lib/pws/tls/certs/own/privkey.pem "
                 "/var/lib/pws/tls/certs/own").stdout.split("\n")
    assert key[:2] == ["600 root", "700 root"]


def test_local_ca_is_verifiable_with_its_published_root(tls_ct):
    ct = tls_ct
    mksite(ct, "lca", "lca.test", "--tls local-ca")
    status, headers, body = https(ct, "lca.test", extra="--cacert /var/lib/pws/tls/pws-local-ca.crt")
    assert status == 200 and body == "served-https https", body
    assert headers["strict-transport-security"].startswith("max-age=3600")
    modes = ct.run("stat -c '%a %U %n' /var/lib/pws/ca /var/lib/pws/ca/ca.key").stdout
    assert modes.splitlines() == ["700 root /var/lib/pws/ca", "600 root /var/lib/pws/ca/ca.key"]


def test_local_ca_renews_the_same_way(tls_ct):
    ct = tls_ct
    before = served_cert(ct, "lca.test", "-serial")
    ct.run("pws tls lca renew --force")
    assert served_cert(ct, "lca.test", "-serial") != before
    status, _, _ = https(ct, "lca.test", extra="--cacert /var/lib/pws/tls/pws-local-ca.crt")
    assert status == 200


def test_near_expiry_is_an_alert(tls_ct):
    ct = tls_ct
    record = json.loads(ct.read_file("/var/lib/pws/tls/blog.json"))
    record["not_after"] = "2020-01-01T00:00:00+00:00"  # as if certbot's renewals kept failing
    record["alerted"] = ""
    ct.write_file("/var/lib/pws/tls/blog.json", json.dumps(record))
    ct.run("pws health blog", check=False)
    assert "TLS certificate expires in" in ct.run("pws alerts").stdout
    ct.run("pws tls blog renew")  # certbot finds it not due; the record is read anew
    assert json.loads(ct.read_file("/var/lib/pws/tls/blog.json"))["not_after"] > "2026"


def test_tls_off_and_on_again(tls_ct):
    ct = tls_ct
    ct.run("pws tls own off")
    status, _, body = plain(ct, "own.test")
    assert (status, body) == (200, "served-http http")
    ct.run("pws tls own self-signed")
    assert plain(ct, "own.test")[0] == 301


# --- frameworks
def test_django_check_deploy_is_clean_on_a_new_tls_site(tls_ct):
    ct = tls_ct
    ct.run("mksite django dj --domain dj.test --tls --yes", timeout=900)
    check = ct.run("pws manage dj check --deploy", check=False)
    output = check.stdout + check.stderr
    assert check.returncode == 0, output
    assert security_warnings(output) == set(), output
    assert "no issues" in output, output
    status, headers, _ = https(ct, "dj.test", "/admin/login/")
    assert status == 200
    cookies = headers.get("set-cookie", "")
    assert "Secure" in cookies, headers
    assert headers["strict-transport-security"] == "max-age=3600; includeSubDomains"
    hsts = ct.run("curl -sk -D - -o /dev/null https://dj.test/admin/login/").stdout
    assert hsts.lower().count("strict-transport-security") == 1  # nginx's only


def test_flask_gets_secure_cookies_and_https_urls(tls_ct):
    ct = tls_ct
    ct.run("mksite flask fl --domain fl.test --tls local-ca --yes", timeout=900)
    env = ct.read_file("/etc/pws/secrets/fl/env")
    assert "FLASK_SESSION_COOKIE_SECURE=true" in env and "FLASK_PREFERRED_URL_SCHEME=https" in env
    script = ("import os; from webapp import create_app; a = create_app(); "
              "print(a.config['SESSION_COOKIE_SECURE'], a.config['PREFERRED_URL_SCHEME'])")
    out = ct.run(f"cd /srv/pws/fl/current/app && setpriv --reuid pws-fl --regid pws-fl --clear-groups "
                 f"env $(cat /etc/pws/secrets/fl/env | xargs) /srv/pws/fl/current/venv/bin/python -c "
                 f"\"{script}\"").stdout
    assert out.split() == ["True", "https"]
    status, _, body = https(ct, "fl.test", extra="--cacert /var/lib/pws/tls/pws-local-ca.crt")
    assert status == 200 and "Flask site fl is live" in body


# --- attacks of a site user
def test_a_site_user_cannot_write_where_root_serves_or_keeps_certificates(tls_ct):
    ct = tls_ct
    for target in ("/var/lib/pws/acme/x", "/var/lib/pws/acme/.well-known/acme-challenge/x",
                   "/var/lib/pws/tls/x", "/var/lib/pws/tls/certs/blog/x", "/var/lib/pws/ca/x",
                   "/etc/letsencrypt/live/blog/x"):
        proc = ct.run(f"setpriv --reuid pws-blog --regid pws-blog --clear-groups "
                      f"ln -s /etc/shadow {target}", check=False)
        assert proc.returncode != 0, target
    for secret in ("/var/lib/pws/tls/certs/own/privkey.pem", "/var/lib/pws/ca/ca.key",
                   "/etc/letsencrypt/live/blog/privkey.pem"):
        proc = ct.run(f"setpriv --reuid pws-blog --regid pws-blog --clear-groups cat {secret}",
                      check=False)
        assert proc.returncode != 0 and "PRIVATE" not in proc.stdout, secret


def test_nginx_follows_no_link_in_the_acme_webroot(tls_ct):
    ct = tls_ct
    ct.run("mkdir -p /var/lib/pws/acme/.well-known/acme-challenge && "
           "ln -sf /etc/pws/pws.toml /var/lib/pws/acme/.well-known/acme-challenge/planted")
    try:
        status, _, body = plain(ct, "blog.test", "/.well-known/acme-challenge/planted")
        assert status in (403, 404) and "acme_server" not in body
    finally:
        ct.run("rm -f /var/lib/pws/acme/.well-known/acme-challenge/planted")


@pytest.mark.parametrize("cmd, message", [
    ("pws tls ../blog on", "is not allowed"),
    ("pws tls blog/../../etc self-signed", "is not allowed"),
    ("pws tls blog on --force", "--force goes with renew only"),
    ("RENEWED_LINEAGE=/etc/letsencrypt/live/.. pws tls-deployed", "is not allowed"),
    ("RENEWED_LINEAGE='/etc/letsencrypt/live/a b' pws tls-deployed", "is not allowed"),
    # only the last component names the site: this one is 'x', which does not exist
    ("RENEWED_LINEAGE=/etc/letsencrypt/live/../../x pws tls-deployed", "There is no site 'x'"),
])
def test_crafted_names_are_refused(tls_ct, cmd, message):
    proc = tls_ct.run(cmd, check=False)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_crafted_tls_field_in_site_toml_is_refused(tls_ct):
    ct = tls_ct
    text = ct.read_file("/etc/pws/sites/own.toml")
    crafted = re.sub(r'(?m)^tls = ".*"$', 'tls = "../../etc/shadow"', text)
    assert crafted != text
    ct.write_file("/etc/pws/sites/own.toml", crafted)
    try:
        proc = ct.run("pws apply own", check=False)
        assert proc.returncode != 0 and "tls '../../etc/shadow' is not one of" in proc.stderr
    finally:
        ct.write_file("/etc/pws/sites/own.toml", text)


def test_bad_tls_config_is_one_clear_line(tls_ct):
    ct = tls_ct
    ct.write_file("/etc/pws/pws.toml", PWS_TOML + "mode = \"sometimes\"\n")
    try:
        proc = ct.run("pws tls blog renew", check=False)
        assert proc.returncode != 0 and "[tls] mode 'sometimes' is not one of" in proc.stderr
        assert proc.stderr.count("\n") == 1
    finally:
        ct.write_file("/etc/pws/pws.toml", PWS_TOML)


# --- removal and purge
def test_rmsite_keeps_the_certificate_by_default_and_deletes_it_when_told(tls_ct):
    ct = tls_ct
    mksite(ct, "gone", "gone.test", "--tls")
    assert ct.exists("/etc/letsencrypt/live/gone/fullchain.pem")
    kept = ct.run("rmsite gone --delete-source --yes").stdout
    assert "Kept the certificate of gone" in kept
    assert ct.exists("/etc/letsencrypt/renewal/gone.conf")
    mksite(ct, "gone", "gone.test", "--tls")
    deleted = ct.run("rmsite gone --delete-source --delete-certificate --yes").stdout
    assert "Deleted the certificate of gone" in deleted
    assert not ct.exists("/etc/letsencrypt/renewal/gone.conf")
    assert not ct.exists("/var/lib/pws/tls/gone.json")


def test_purge_restores_nginx_exactly_with_tls_sites_and_leaves_letsencrypt(tls_ct):
    ct = tls_ct
    purge = ct.run("apt-get purge -y pws pws-django", timeout=600)
    assert "/etc/letsencrypt" in purge.stdout + purge.stderr
    ct.run("find /etc/nginx -printf '%y %m %u %p %l\\n' | sort > /root/nginx-after.txt && "
           "find /etc/nginx -type f -print0 | sort -z | xargs -0 sha256sum > /root/nginx-after.sha")
    diff = ct.run("diff /root/nginx-before.txt /root/nginx-after.txt && "
                  "diff /root/nginx-before.sha /root/nginx-after.sha", check=False)
    assert diff.returncode == 0, diff.stdout
    assert ct.exists("/etc/letsencrypt/live/blog/fullchain.pem")
    ct.run("nginx -t -q")
