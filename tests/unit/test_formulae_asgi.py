"""The asgi formula: the app found by reading the project (never imported), the gunicorn
settings and packages of an ASGI site, and the vhost's websocket lines."""
import argparse

import crossplane
import pytest

from pws import formulae, pins
from pws.deploy import Deployer
from pws.errors import InvalidInput
from pws.formulae import asgi
from pws.nginx.server import NginxServer
from pws.paths import Paths, SOURCE_TREE
from pws.site import Site
from pws.ui import UI


def detect(tmp_path, app=None):
    formula = formulae.load("asgi", Paths(share=SOURCE_TREE))
    return formula.detect(tmp_path, argparse.Namespace(app=app))


def test_the_asgi_formula_is_part_of_the_core():
    assert "asgi" in formulae.available(Paths(share=SOURCE_TREE))


@pytest.mark.parametrize("source, spec", [
    ("from fastapi import FastAPI\napp = FastAPI()\n", "main:app"),
    ("import fastapi\napi: fastapi.FastAPI = fastapi.FastAPI(title='x')\n", "main:api"),
    ("from starlette.applications import Starlette\nsite = Starlette(routes=[])\n", "main:site"),
    ("from litestar import Litestar as L\napp = L([])\n", "main:app"),
    ("from quart import Quart\nweb = Quart(__name__)\n", "main:web"),
])
def test_each_framework_is_found_by_reading_the_file(tmp_path, source, spec):
    (tmp_path / "main.py").write_text(source)
    assert detect(tmp_path) == {"app": spec}


def test_the_app_in_a_package_gets_its_dotted_module(tmp_path):
    (tmp_path / "chat").mkdir()
    (tmp_path / "chat" / "__init__.py").write_text("")
    (tmp_path / "chat" / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    assert detect(tmp_path) == {"app": "chat.main:app"}


def test_the_project_is_never_imported(tmp_path):
    (tmp_path / "main.py").write_text(
        "open('/tmp/pws-imported', 'w')\nraise SystemExit(9)\n"
        "from fastapi import FastAPI\napp = FastAPI()\n")
    assert detect(tmp_path) == {"app": "main:app"}
    assert not (tmp_path / "pws-imported").exists()


def test_app_overrides_detection(tmp_path):
    assert detect(tmp_path, app="svc:make()") == {}


def test_an_unknown_framework_is_one_clear_error(tmp_path):
    (tmp_path / "main.py").write_text("from sanic import Sanic\napp = Sanic('x')\n")
    with pytest.raises(InvalidInput, match="No ASGI app found .*unknown framework") as exc:
        detect(tmp_path)
    assert "--app MODULE:ATTR" in exc.value.fix


def test_a_wsgi_framework_points_at_the_wsgi_formulae(tmp_path):
    (tmp_path / "app.py").write_text("from flask import Flask\napp = Flask(__name__)\n")
    with pytest.raises(InvalidInput, match="flask app .*WSGI framework") as exc:
        detect(tmp_path)
    assert "mksite flask" in exc.value.fix


def test_several_apps_at_the_same_rank_are_refused(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    with pytest.raises(InvalidInput, match="several ASGI apps: a:app, b:app"):
        detect(tmp_path)


def test_main_wins_over_other_modules(tmp_path):
    (tmp_path / "other.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    (tmp_path / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    assert detect(tmp_path) == {"app": "main:app"}


@pytest.mark.parametrize("text", ["def (:\n", "\x00\x00", "x = (" * 200 + ")" * 200 + "\n"])
def test_hostile_files_are_skipped_not_fatal(tmp_path, text):
    (tmp_path / "bad.py").write_text(text)
    (tmp_path / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    assert detect(tmp_path) == {"app": "main:app"}


def test_a_linked_file_is_not_read(tmp_path):
    outside = tmp_path / "outside.py"
    outside.write_text("from fastapi import FastAPI\napp = FastAPI()\n")
    project = tmp_path / "p"
    project.mkdir()
    (project / "main.py").symlink_to(outside)
    with pytest.raises(InvalidInput, match="No ASGI app found"):
        detect(project)


def asgi_site(**kw):
    return Site(name="chat", formula="asgi", app="chat.main:app", domains=["chat.example.org"],
                **kw)


def test_asgi_sites_get_the_uvicorn_worker_and_its_packages():
    assert asgi.gunicorn_settings(asgi_site()) == {"worker_class": "uvicorn_worker.UvicornWorker"}
    assert asgi.requirements(asgi_site()) == list(pins.ASGI_REQUIREMENTS)
    django = Site(name="shop", formula="django", app="shop.asgi:application",
                  domains=["shop.example.org"], options={"interface": "asgi"}).check()
    assert asgi.is_asgi(django)
    wsgi = Site(name="blog", formula="wsgi", app="a:b", domains=["b.example.org"])
    assert asgi.gunicorn_settings(wsgi) == {} and asgi.requirements(wsgi) == []


def test_interface_option_is_checked():
    with pytest.raises(InvalidInput, match="neither wsgi nor asgi"):
        Site(name="shop", formula="django", app="a:b", domains=["s.example.org"],
             options={"interface": "rsgi"}).check()


def test_gunicorn_config_of_an_asgi_site_names_the_worker_class(tmp_path):
    paths = Paths(root=tmp_path, share=SOURCE_TREE)
    deployer = Deployer(paths, UI(), NginxServer(paths), None)
    formula = formulae.load("asgi", paths)
    text = deployer.render_gunicorn(asgi_site(), formula, asgi.gunicorn_settings(asgi_site()))
    compile(text, "conf", "exec")
    assert "worker_class = 'uvicorn_worker.UvicornWorker'" in text


def _location(text, tmp_path):
    conf = tmp_path / "vhost.conf"
    conf.write_text("http {\n" + text + "\n}\n")
    parsed = crossplane.parse(str(conf), single=True)
    assert parsed["status"] == "ok", parsed["errors"]
    server = next(d for d in parsed["config"][0]["parsed"][0]["block"]
                  if d["directive"] == "server")["block"]
    location = next(d for d in server if d["directive"] == "location" and d["args"] == ["/"])
    return server, {(d["directive"], *d["args"][:1]): d["args"] for d in location["block"]}


def test_asgi_vhost_passes_websocket_upgrades_with_a_long_read_timeout(tmp_path):
    server, location = _location(NginxServer(Paths(root=tmp_path, share=SOURCE_TREE))
                                 .render(asgi_site()), tmp_path)
    assert location[("proxy_set_header", "Upgrade")] == ["Upgrade", "$http_upgrade"]
    assert location[("proxy_set_header", "Connection")] == ["Connection", "$pws_connection"]
    assert location[("proxy_read_timeout", "3600s")] == ["3600s"]
    # No upstream keepalive: a retiring worker would close connections nginx is reusing.
    assert "keepalive" not in (tmp_path / "vhost.conf").read_text()
    sets = [d for d in server if d["directive"] in ("set", "if")]
    assert sets[0]["args"] == ["$pws_connection", ""]
    assert sets[1]["args"] == ["$http_upgrade", "!=", ""]


def test_wsgi_vhost_keeps_connection_empty_and_no_upgrade(tmp_path):
    site = Site(name="blog", formula="wsgi", app="a:b", domains=["b.example.org"], timeout=20)
    server, location = _location(NginxServer(Paths(root=tmp_path, share=SOURCE_TREE)).render(site),
                                 tmp_path)
    assert location[("proxy_set_header", "Connection")] == ["Connection", ""]
    assert ("proxy_set_header", "Upgrade") not in location
    assert location[("proxy_read_timeout", "25s")] == ["25s"]
    assert not [d for d in server if d["directive"] in ("set", "if")]
    assert "keepalive" not in (tmp_path / "vhost.conf").read_text()


def test_the_placeholder_app_answers_lifespan_and_http():
    import asyncio
    namespace = {}
    exec(asgi.HELLO, namespace)
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent = []

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    async def run():
        await namespace["app"]({"type": "lifespan"}, receive, send)
        await namespace["app"]({"type": "http"}, receive, send)

    asyncio.run(run())
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete",
                                         "http.response.start", "http.response.body"]
    assert sent[-1]["body"] == b"Hello from PWS (ASGI)\n"


def test_asgi_config_makes_a_retiring_worker_read_what_it_accepted(tmp_path):
    from pws.transaction import Transaction
    paths = Paths(root=tmp_path, share=SOURCE_TREE)
    (tmp_path / "etc/pws/gunicorn").mkdir(parents=True)
    deployer = Deployer(paths, UI(), NginxServer(paths), None)
    ctx = formulae.Context(asgi_site(), paths, UI(), Transaction())
    deployer.write_gunicorn(ctx, formulae.load("asgi", paths))
    text = paths.gunicorn_conf("chat").read_text()
    compile(text, "conf", "exec")
    assert "worker_class = 'uvicorn_worker.UvicornWorker'" in text
    assert "_Server.shutdown = stop_accepting_then_shutdown" in text
