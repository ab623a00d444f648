"""TLS rendering and parsing: [tls] config, certificate facts, certbot's refusals, the TLS
vhost (parsed with crossplane), and the framework settings that must agree with nginx."""
from __future__ import annotations

import datetime as dt
import subprocess

import crossplane
import pytest

from pws.errors import InvalidInput
from pws.nginx.server import NginxServer
from pws.paths import Paths, SOURCE_TREE
from pws.site import Site
from pws.tls import acme, certinfo, config, state
from pws.tls.state import Record, TlsPaths


def site(tls: str = "acme", **kw) -> Site:
    return Site(name="blog", formula="wsgi", app="a:app", domains=["blog.example.org", "www.blog.example.org"],
                static={"/static/": "static"}, tls=tls, **kw).check()


# --- [tls] in pws.toml
def test_config_defaults_without_a_file(tmp_path):
    cfg = config.load(Paths(root=tmp_path))
    assert cfg.mode == "off" and cfg.acme_server == config.LETSENCRYPT
    assert cfg.mode_for_on() == "acme"


def test_config_reads_and_checks_the_table(tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    (tmp_path / "etc/pws").mkdir(parents=True)
    (tmp_path / "etc/pws/pws.toml").write_text(
        f'[tls]\nmode = "local-ca"\nemail = "a@b.org"\nacme_ca_bundle = "{bundle}"\n'
        'hsts_max_age = 60\nacme_server = "https://ca.internal:9000/acme/dir"\n')
    cfg = config.load(Paths(root=tmp_path))
    assert (cfg.mode, cfg.email, cfg.hsts_max_age) == ("local-ca", "a@b.org", 60)
    assert cfg.mode_for_on() == "local-ca"


@pytest.mark.parametrize("table, message", [
    ({"mode": "sometimes"}, "mode 'sometimes' is not one of"),
    ({"acme_server": "http://plain.example/dir"}, "is not an https URL"),
    ({"acme_server": "https://x/dir\nssl_certificate /etc/shadow"}, "is not an https URL"),
    ({"email": "root; rm -rf /"}, "is not an e-mail address"),
    ({"acme_ca_bundle": "/nonexistent/ca.pem"}, "is not an existing PEM file"),
    ({"acme_ca_bundle": "relative.pem"}, "is not an existing PEM file"),
    ({"hsts_max_age": -1}, "is not between 0 and"),
    ({"hsts_max_age": "1y"}, "hsts_max_age must be int"),
    ({"hsts_preload": 1}, "hsts_preload must be bool"),
    ({"colour": "blue"}, "unknown key(s) 'colour'"),
])
def test_config_refuses_bad_values(table, message):
    with pytest.raises(InvalidInput) as exc:
        config.check(table)
    assert message in str(exc.value)


def test_config_error_names_the_file(tmp_path):
    (tmp_path / "etc/pws").mkdir(parents=True)
    (tmp_path / "etc/pws/pws.toml").write_text('[tls]\nmode = 3\n')
    with pytest.raises(InvalidInput) as exc:
        config.load(Paths(root=tmp_path))
    assert str(exc.value).startswith(f"{tmp_path}/etc/pws/pws.toml: [tls] mode must be str")


# --- certificates
OPENSSL_OUT = """subject=CN=blog.example.org
issuer=CN=Pebble Intermediate CA 4a5b6c,O=Pebble
notAfter=Feb 21 16:12:01 2027 GMT
http://ocsp.example.net
X509v3 Subject Alternative Name: \n    DNS:blog.example.org, DNS:www.blog.example.org
"""


def test_certinfo_parses_openssl_output():
    info = certinfo.parse(OPENSSL_OUT)
    assert info.names == ("blog.example.org", "www.blog.example.org")
    assert info.issuer.startswith("CN=Pebble") and not info.self_signed
    assert info.not_after == dt.datetime(2027, 2, 21, 16, 12, 1, tzinfo=dt.timezone.utc)
    assert info.ocsp == "http://ocsp.example.net"
    assert info.days_left(dt.datetime(2027, 2, 1, tzinfo=dt.timezone.utc)) == 20


def make_cert(path, names=("blog.example.org",), days=30):
    path.parent.mkdir(parents=True, exist_ok=True)
    san = ",".join(f"DNS:{n}" for n in names)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(path.parent / "privkey.pem"),
                    "-out", str(path), "-days", str(days), "-subj", f"/CN={names[0]}",
                    "-addext", f"subjectAltName={san}"], check=True, capture_output=True)


def test_certinfo_reads_a_real_certificate(tmp_path):
    make_cert(tmp_path / "fullchain.pem", ("a.test", "b.test"))
    info = certinfo.read(tmp_path / "fullchain.pem")
    assert info.names == ("a.test", "b.test") and info.self_signed and info.ocsp == ""
    assert 28 <= info.days_left() <= 30
    assert len(certinfo.leaf_der(tmp_path / "fullchain.pem")) > 100


CERTBOT_DNS = """Saving debug log to /var/log/letsencrypt/letsencrypt.log
Requesting a certificate for nowhere.test

Certbot failed to authenticate some domains (authenticator: webroot). The Certificate Authority reported these problems:
  Domain: nowhere.test
  Type:   dns
  Detail: DNS problem: NXDOMAIN looking up A for nowhere.test

Hint: The Certificate Authority failed to download the temporary challenge files created by Certbot.

Some challenges have failed.
Ask for help or search for solutions at https://community.letsencrypt.org. See the logfile /var/log/letsencrypt/letsencrypt.log or re-run Certbot with -v for more details.
"""
CERTBOT_RATE = """Saving debug log to /var/log/letsencrypt/letsencrypt.log
An unexpected error occurred:
Error creating new order :: too many certificates already issued for "example.org"
Ask for help or search for solutions at https://community.letsencrypt.org.
"""


def test_ca_reason_quotes_the_ca():
    assert acme.ca_reason(CERTBOT_DNS) == "nowhere.test: DNS problem: NXDOMAIN looking up A for nowhere.test"
    assert acme.ca_reason(CERTBOT_RATE).startswith("Error creating new order :: too many")
    assert acme.ca_reason("") == "certbot gave no reason"


def test_certbot_command_is_webroot_never_the_nginx_plugin(tmp_path):
    issuer = acme.AcmeIssuer(Paths(root=tmp_path), config.TlsConfig(email="a@b.org"))
    cmd = issuer.command(site(), force=False)
    assert cmd[:2] == ["certbot", "certonly"] and "--webroot" in cmd and "--nginx" not in cmd
    assert cmd[cmd.index("--cert-name") + 1] == "blog"
    assert cmd[cmd.index("--webroot-path") + 1] == f"{tmp_path}/var/lib/pws/acme"
    assert [cmd[i + 1] for i, a in enumerate(cmd) if a == "-d"] == site().domains
    assert cmd[cmd.index("--deploy-hook") + 1] == "/usr/bin/pws tls-deployed"
    assert "--keep-until-expiring" in cmd and "--email" in cmd


# --- paths: names never escape
@pytest.mark.parametrize("name", ["../x", "a/b", "", ".", "blog/../../etc"])
def test_tls_paths_refuse_crafted_names(tmp_path, name):
    tp = TlsPaths(Paths(root=tmp_path))
    for make in (tp.record, tp.own_dir, lambda n: tp.pair(n, "acme")):
        with pytest.raises(InvalidInput):
            make(name)


def test_site_tls_field_is_checked():
    with pytest.raises(InvalidInput, match="tls '../x' is not one of"):
        site(tls="../x")


# --- the vhost
def tls_root(tmp_path, served_valid=True, hsts=3600, ocsp=False, mode="acme"):
    paths = Paths(root=tmp_path, share=SOURCE_TREE)
    cert, key = TlsPaths(paths).pair("blog", mode)
    make_cert(cert)
    if ocsp:
        TlsPaths(paths).chain("blog", mode).write_bytes(cert.read_bytes())
    (tmp_path / "etc/pws").mkdir(parents=True, exist_ok=True)
    (tmp_path / "etc/pws/pws.toml").write_text(f"[tls]\nhsts_max_age = {hsts}\n")
    state.save(paths, "blog", Record(mode, ["blog.example.org"], "CN=x", "2030-01-01T00:00:00+00:00",
                                     ocsp=ocsp, served_valid=served_valid))
    return paths


def servers(text, tmp_path):
    conf = tmp_path / "vhost.conf"
    conf.write_text("http {\n" + text + "\n}\n")
    parsed = crossplane.parse(str(conf), single=True)
    assert parsed["status"] == "ok", parsed["errors"]
    http = parsed["config"][0]["parsed"][0]["block"]
    return [d["block"] for d in http if d["directive"] == "server"]


def directives(block, name):
    return [d["args"] for d in block if d["directive"] == name]


def location(block, *args):
    return next(d["block"] for d in block if d["directive"] == "location" and d["args"] == list(args))


def test_plain_vhost_serves_the_acme_path(tmp_path):
    paths = Paths(root=tmp_path, share=SOURCE_TREE)
    [server] = servers(NginxServer(paths, listen=("80",)).render(site(tls="")), tmp_path)
    acme_loc = location(server, "^~", "/.well-known/acme-challenge/")
    assert directives(acme_loc, "root") == [[f"{tmp_path}/var/lib/pws/acme"]]
    assert directives(acme_loc, "disable_symlinks") == [["on"]]
    assert "ssl_certificate" not in str(server)


def test_tls_on_without_a_certificate_stays_plain(tmp_path):
    paths = Paths(root=tmp_path, share=SOURCE_TREE)
    text = NginxServer(paths, listen=("80",)).render(site(tls="acme"))
    assert "443" not in text and "acme-challenge" in text


def test_tls_vhost_redirects_and_serves_https(tmp_path):
    paths = tls_root(tmp_path)
    redirect, main = servers(NginxServer(paths, listen=("80", "[::]:80")).render(site()), tmp_path)
    assert directives(redirect, "listen") == [["80"], ["[::]:80"]]
    assert directives(redirect, "server_name") == [["blog.example.org", "www.blog.example.org"]]
    assert location(redirect, "^~", "/.well-known/acme-challenge/")  # before the redirect
    assert directives(location(redirect, "/"), "return") == [["301", "https://$host$request_uri"]]
    assert directives(main, "listen") == [["443", "ssl", "http2"], ["[::]:443", "ssl", "http2"]]
    live = f"{tmp_path}/etc/letsencrypt/live/blog"
    assert directives(main, "ssl_certificate") == [[f"{live}/fullchain.pem"]]
    assert directives(main, "ssl_certificate_key") == [[f"{live}/privkey.pem"]]
    assert directives(main, "include") == [[f"{tmp_path}/etc/nginx/snippets/pws-tls.conf"]]
    assert not directives(main, "ssl_stapling")
    hsts = ["Strict-Transport-Security", "max-age=3600; includeSubDomains", "always"]
    for loc in (location(main, "/"), location(main, "/static/"), location(main, "^~", "/.pws-errors/")):
        assert hsts in directives(loc, "add_header"), loc
    assert directives(location(main, "/"), "proxy_hide_header") == [["Strict-Transport-Security"]]
    assert ["X-Forwarded-Proto", "$scheme"] in directives(location(main, "/"), "proxy_set_header")


def test_no_hsts_before_valid_https_was_served(tmp_path):
    paths = tls_root(tmp_path, served_valid=False)
    text = NginxServer(paths, listen=("80",)).render(site())
    assert "listen 443 ssl http2" in text and "Strict-Transport-Security \"" not in text


def test_hsts_max_age_zero_sends_none(tmp_path):
    paths = tls_root(tmp_path, hsts=0)
    assert "add_header Strict-Transport-Security" not in NginxServer(paths, listen=("80",)).render(site())


def test_ocsp_stapling_only_where_the_certificate_names_a_responder(tmp_path):
    paths = tls_root(tmp_path, ocsp=True)
    _, main = servers(NginxServer(paths, listen=("80",)).render(site()), tmp_path)
    assert directives(main, "ssl_stapling") == [["on"]]
    assert directives(main, "ssl_trusted_certificate") == [[f"{tmp_path}/etc/letsencrypt/live/blog/chain.pem"]]


def test_own_certificates_live_in_pws_state(tmp_path):
    paths = tls_root(tmp_path, mode="local-ca")
    _, main = servers(NginxServer(paths, listen=("80",)).render(site(tls="local-ca")), tmp_path)
    assert directives(main, "ssl_certificate") == [[f"{tmp_path}/var/lib/pws/tls/certs/blog/fullchain.pem"]]


def test_the_snippet_is_mozilla_intermediate():
    text = (SOURCE_TREE / "conf/templates/nginx-tls.conf").read_text()
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in text and "ssl_session_tickets off;" in text
    ciphers = next(l for l in text.splitlines() if l.startswith("ssl_ciphers")).split()[1].rstrip(";")
    assert all(("GCM" in c or "CHACHA20" in c) and c.startswith("ECDHE") for c in ciphers.split(":"))


# --- frameworks agree with nginx
def test_framework_facts_follow_the_vhost(tmp_path):
    paths = tls_root(tmp_path)
    assert state.framework_facts(paths, site()) == state.FrameworkFacts(True, 3600, False)
    assert state.framework_facts(paths, site(tls="")).https is False
    paths2 = tls_root(tmp_path / "b", served_valid=False)
    assert state.framework_facts(paths2, site()) == state.FrameworkFacts(True, 0, False)


def test_a_damaged_record_counts_as_none(tmp_path):
    paths = Paths(root=tmp_path)
    TlsPaths(paths).make_dirs()
    TlsPaths(paths).record("blog").write_text("{not json")
    assert state.load(paths, "blog") is None


def test_nginx_accepts_the_tls_vhost(tmp_path):
    """The rendered TLS vhost and snippet pass Debian's own `nginx -t` (not only a parser)."""
    paths = tls_root(tmp_path, ocsp=True)
    server = NginxServer(paths, listen=("127.0.0.1:8080",))
    snippet = server.tls_snippet
    snippet.parent.mkdir(parents=True)
    snippet.write_text((SOURCE_TREE / "conf/templates/nginx-tls.conf").read_text())
    (tmp_path / "var/log/nginx").mkdir(parents=True)
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
                    f"http {{\n{server.render(site())}\n}}\n")
    proc = subprocess.run(["/usr/sbin/nginx", "-t", "-q", "-p", str(tmp_path), "-c", str(conf),
                           "-e", str(tmp_path / "error.log")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# --- the settings the formulae write agree with nginx
def _ctx(paths, tls="acme", formula="django"):
    from pws.formulae import Context
    from pws.transaction import Transaction
    from pws.ui import UI
    s = Site(name="blog", formula=formula, app="a:app", domains=["blog.example.org"], tls=tls)
    return Context(s.check(), paths, UI(quiet=True), Transaction())


def test_django_tls_settings_match_the_hsts_nginx_sends(tmp_path):
    from pws_formulae import django as dj
    paths = tls_root(tmp_path)
    values: dict = {}
    exec(dj.tls_settings(_ctx(paths)), values)
    assert values["SECURE_SSL_REDIRECT"] and values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert (values["SECURE_HSTS_SECONDS"], values["SECURE_HSTS_INCLUDE_SUBDOMAINS"],
            values["SECURE_HSTS_PRELOAD"]) == (3600, True, False)
    assert values["SILENCED_SYSTEM_CHECKS"] == ["security.W021"]
    assert dj.tls_settings(_ctx(paths, tls="")) == ""


def test_django_has_no_hsts_before_nginx_sends_it(tmp_path):
    from pws_formulae import django as dj
    values: dict = {}
    exec(dj.tls_settings(_ctx(tls_root(tmp_path, served_valid=False))), values)
    assert values["SECURE_HSTS_SECONDS"] == 0 and values["SESSION_COOKIE_SECURE"]
    assert "SILENCED_SYSTEM_CHECKS" not in values


def test_flask_gets_secure_cookies_on_https(tmp_path):
    from pws_formulae import flask as fl
    paths = tls_root(tmp_path)
    assert fl.tls_env(_ctx(paths, formula="flask")) == {
        "FLASK_SESSION_COOKIE_SECURE": "true", "FLASK_PREFERRED_URL_SCHEME": "https"}
    assert fl.tls_env(_ctx(paths, tls="", formula="flask")) == {}
