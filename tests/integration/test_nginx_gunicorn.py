"""pws-rendered vhost + gunicorn config, served by a real nginx and a real gunicorn."""
import os

import pytest

from pws.deploy import Deployer
from pws.errors import NginxConfigError
from pws.fsutil import write_atomic
from pws.formulae.wsgi import WsgiFormula
from pws.nginx import compare
from pws.releases import Releases
from pws.site import Site
from pws.ui import UI

from .conftest import get, wait_for

APP = '''
def app(environ, start_response):
    body = ("APP " + environ["PATH_INFO"] + " via " + environ.get("HTTP_X_FORWARDED_FOR", "?")).encode()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]
'''


@pytest.fixture(scope="module")
def hello(private_nginx, site_venv, gunicorn_for):
    web, port = private_nginx
    paths = web.paths
    site = Site(name="hello", formula="wsgi", app="hello:app", domains=["hello.example.org"],
                static={"/static/": "static"})
    releases = Releases(paths, "hello")
    paths.site_home("hello").mkdir(parents=True)
    release = releases.begin(source="test", by="test")
    app_dir = release.app
    (app_dir / "static").mkdir(parents=True)
    (app_dir / "hello.py").write_text(APP)
    (app_dir / "static" / "style.css").write_text("body { color: teal }\n")
    releases.switch(release)
    deployer = Deployer(paths, UI(quiet=True), web, services=None)
    deployer.sync_static(site, release)
    write_atomic(paths.gunicorn_conf("hello"), deployer.render_gunicorn(site, WsgiFormula()))
    gunicorn_for(site_venv, paths.gunicorn_conf("hello"), paths.socket("hello"))
    return site, deployer


def test_site_is_served_through_nginx_by_gunicorn(hello, private_nginx):
    site, deployer = hello
    web, port = private_nginx
    web.install(site)
    # install() returns once nginx runs the new configuration: no waiting here.
    assert get(port, "hello.example.org", "/x")[:2] == (200, "APP /x via 127.0.0.1")
    assert get(port, "admin.example.org")[1] == "admin site\n"


def test_static_files_come_from_nginx_not_the_app(hello, private_nginx):
    web, port = private_nginx
    status, body, headers = get(port, "hello.example.org", "/static/style.css")
    assert (status, body) == (200, "body { color: teal }\n")
    assert headers["Content-Type"] == "text/css"
    assert headers["Cache-Control"] == "public"
    assert get(port, "hello.example.org", "/static/missing.css")[0] == 404


def test_admin_domains_are_seen_by_the_parser(private_nginx):
    web, _ = private_nginx
    taken = web.taken_domains()
    assert "admin.example.org" in taken
    assert "hello.example.org" not in taken  # pws's own vhosts are not the admin's


def test_a_vhost_nginx_rejects_is_rolled_back_and_others_keep_serving(hello, private_nginx):
    web, port = private_nginx
    admin_file = web.paths.nginx / "sites-enabled" / "admin-upstreams.conf"
    admin_file.write_text("upstream pws-other { server 127.0.0.1:9; }\n")
    other = Site(name="other", formula="wsgi", app="hello:app", domains=["other.example.org"])
    try:
        with pytest.raises(NginxConfigError, match="duplicate upstream"):
            web.install(other)
        assert not web.paths.vhost("other").exists()
        assert not os.path.lexists(web.paths.vhost_link("other"))
        assert web.state.written()["sites-enabled/pws-other.conf"].type == "-"
        web.reload()
        assert get(port, "hello.example.org", "/")[0] == 200
    finally:
        admin_file.unlink()


def test_an_admin_config_that_already_fails_is_named_and_nothing_is_written(hello, private_nginx):
    web, _ = private_nginx
    broken = web.paths.nginx / "sites-enabled" / "admin-broken.conf"
    broken.write_text("server { listen 127.0.0.1:1; bogus_directive on; }\n")
    other = Site(name="other", formula="wsgi", app="hello:app", domains=["other.example.org"])
    try:
        with pytest.raises(NginxConfigError, match="fails `nginx -t` already") as err:
            web.install(other)
        assert "admin-broken.conf" in str(err.value)
        assert not web.paths.vhost("other").exists()
    finally:
        broken.unlink()


def test_nginx_diff_shows_what_pws_created(hello, private_nginx):
    web, _ = private_nginx
    verdicts = {s.path: s.verdict for s in compare.changed(web.state)}
    assert verdicts["sites-available/pws-hello.conf"] == "created by pws"
    assert verdicts["sites-enabled/pws-hello.conf"] == "created by pws"
    assert "+upstream pws-hello {" in compare.unified_diff(web.state)


def test_removing_the_site_leaves_nginx_as_before(hello, private_nginx):
    web, port = private_nginx
    web.remove("hello")
    assert get(port, "hello.example.org")[1] == "admin site\n"
    assert [s.path for s in compare.changed(web.state)] == []
