"""Issue 14, ASGI: a FastAPI app (HTTP and a websocket echo) and a Django project through its
asgi.py, served by gunicorn with uvicorn's worker behind nginx in the booted container; crash
respawn, rolling reload with open websockets closed by a close frame and new ones on new
workers, a deploy through the health gate; bad input leaving nothing behind."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import site_helpers as sh
from site_helpers import mksite, request

HERE = Path(__file__).resolve().parent
WS = "python3 /root/wsclient.py chat.example.org /ws"


@pytest.fixture(scope="module")
def chat(ct):
    sh.install_projects(ct)
    ct.copy_in(HERE / "wsclient.py", "/root/wsclient.py")
    proc = mksite(ct, f"asgi chat --from {sh.CT_PROJECTS}/fastapi_chat --domain chat.example.org")
    yield proc
    sh.print_timings("test_asgi")


def wait_until(check, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(1)
    return value


def workers(ct, name: str) -> set[int]:
    """The worker pids: the children of the service's main process (gunicorn's master)."""
    master = ct.run(f"systemctl show -P MainPID pws-site@{name}.service").stdout.strip()
    out = ct.run(f"pgrep -P {master}", check=False).stdout
    return {int(p) for p in out.split()}


def test_fastapi_app_is_detected_and_served_through_nginx(ct, chat):
    assert "Site 'chat' is live" in chat.stdout
    site = ct.run("cat /etc/pws/sites/chat.toml").stdout
    assert 'app = "chat.main:app"' in site
    response = request(ct, "chat.example.org", "/")
    assert response.status == 200 and json.loads(response.body)["hello"] == "chat"
    conf = ct.run("cat /etc/pws/gunicorn/chat.conf.py").stdout
    assert "worker_class = 'uvicorn_worker.UvicornWorker'" in conf
    assert "uvicorn" in ct.run("pws status chat").stdout


def test_websocket_echo_through_nginx(ct, chat):
    out = ct.run(f"{WS} echo hello 'second message'").stdout.splitlines()
    assert out[0].startswith("pid ") and out[1:] == ["hello", "second message"]


def test_a_killed_worker_is_respawned(ct, chat):
    before = workers(ct, "chat")
    victim = min(before)
    ct.run(f"kill -9 {victim}")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = workers(ct, "chat")
        if len(now) == len(before) and victim not in now:
            break
        time.sleep(0.5)
    assert victim not in now and len(now) == len(before)
    assert request(ct, "chat.example.org", "/").status == 200


def test_reload_closes_open_websockets_with_a_close_frame_and_new_ones_land_on_new_workers(ct, chat):
    old = workers(ct, "chat")
    ct.run(f"nohup {WS} hold 60 > /root/ws-hold.txt 2>&1 &")
    time.sleep(1.5)
    held = ct.run("cat /root/ws-hold.txt").stdout
    assert held.startswith("pid "), held
    ct.run("pws reload chat", timeout=120)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(ct.run("cat /root/ws-hold.txt").stdout.splitlines()) < 2:
        time.sleep(0.5)
    lines = ct.run("cat /root/ws-hold.txt").stdout.splitlines()
    assert lines[1] == "close 1012", lines  # 1012: service restart
    fresh = ct.run(f"{WS} echo again").stdout.splitlines()
    assert int(fresh[0].split()[1]) not in old and fresh[1] == "again"


def test_scale_to_zero_waits_for_open_websockets_to_close(ct, chat):
    """idle=1: no new request for a minute (the access log's time set back: nginx logs a
    websocket only when it closes) stops the site, unless a websocket is still open. The test
    runs the health pass itself: pws-health.timer's own passes (every 15 s) would race it."""
    ct.run("systemctl stop pws-health.timer")
    try:
        ct.run("pws config chat idle=1", timeout=300)
        wait_until(lambda: request(ct, "chat.example.org", "/").status == 200)
        ct.run(f"nohup {WS} hold 120 > /root/ws-idle.txt 2>&1 &")
        assert wait_until(lambda: ct.run("cat /root/ws-idle.txt").stdout.startswith("pid "), 10)
        ct.run("touch -d '-5 min' /var/log/nginx/pws-chat.access.log")
        out = ct.run("pws health chat").stdout
        assert "1 connection(s) open (websockets): kept running" in out, out
        assert ct.run("systemctl is-active pws-site@chat.service", check=False).stdout.strip() == "active"
        assert ct.run("cat /root/ws-idle.txt").stdout.splitlines()[1:] == []  # still open
        ct.run("pkill -f '[w]sclient.py chat.example.org /ws hold'")  # [w]: not this shell
        log = "/var/log/nginx/pws-chat.access.log"
        # nginx logs the websocket once it is closed: then the site is truly idle.
        assert wait_until(lambda: int(ct.run(f"echo $(( $(date +%s) - $(stat -c %Y {log}) ))")
                                      .stdout) < 60, 20)
        ct.run(f"touch -d '-5 min' {log}")
        out = ct.run("pws health chat").stdout
        assert "idle for 1 min: stopping gunicorn" in out, out
        assert ct.run("systemctl is-active pws-site@chat.service", check=False).stdout.strip() != "active"
        assert request(ct, "chat.example.org", "/").status == 200  # the socket starts it again
        ct.run("pws config chat idle=0", timeout=300)
    finally:
        ct.run("systemctl start pws-health.timer")


def test_rolling_reload_and_deploy_of_the_asgi_site_fail_no_request(ct, chat):
    ct.copy_in(HERE / "loadclient.py", "/root/loadclient.py")
    ct.run("nohup python3 /root/loadclient.py --host chat.example.org --path /pid --expect pid "
           "--concurrency 4 --duration 25 > /root/load.json 2>&1 &")
    # POSTs are never retried by nginx: none may meet a connection an old worker is closing
    # (with upstream keepalive some did: nginx/websocket.py).
    ct.run("nohup python3 /root/loadclient.py --host chat.example.org --path /echo --post hi "
           "--expect '\"echo\":\"hi\"' --concurrency 2 --duration 25 > /root/post.json 2>&1 &")
    time.sleep(1)
    ct.run("pws reload chat", timeout=120)
    ct.run("pws deploy chat --from /root/projects/fastapi_chat", timeout=600)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not ct.run("cat /root/load.json").stdout.strip():
        time.sleep(1)
    result = json.loads(ct.run("cat /root/load.json").stdout)
    assert wait_until(lambda: ct.run("cat /root/post.json").stdout.strip())
    posts = json.loads(ct.run("cat /root/post.json").stdout)
    print(f"\n[figures] ASGI reload + deploy under load: GET {result}, POST {posts}")
    assert result["requests"] > 100 and result["failed"] == 0, result
    assert posts["requests"] > 50 and posts["failed"] == 0, posts
    assert "keepalive" not in ct.run("cat /etc/nginx/sites-available/pws-chat.conf").stdout


def test_django_through_its_asgi_py(ct, chat):
    proc = mksite(ct, f"django shopa --from {sh.CT_PROJECTS}/django_shop --asgi "
                      "--domain shopa.example.org")
    assert "Site 'shopa' is live" in proc.stdout
    site = ct.run("cat /etc/pws/sites/shopa.toml").stdout
    assert 'app = "shop.asgi:application"' in site and 'interface = "asgi"' in site
    assert "uvicorn_worker" in ct.run("cat /etc/pws/gunicorn/shopa.conf.py").stdout
    assert "server:    gunicorn + uvicorn_worker.UvicornWorker (ASGI)" in ct.run(
        "pws status shopa").stdout
    assert "shop is up" in request(ct, "shopa.example.org", "/").body
    assert request(ct, "shopa.example.org", "/notes/", data="text=async").status == 201


def test_a_wsgi_app_named_as_asgi_is_one_clear_error_and_nothing_is_left(ct, chat):
    before = sh.footprint(ct)
    proc = mksite(ct, f"asgi notasgi --from {sh.CT_PROJECTS}/flask_api --app wsgi:app "
                      "--domain notasgi.example.org", check=False)
    sh.assert_one_clear_error(proc, "not an ASGI app")
    assert sh.footprint(ct) == before


def test_an_unknown_framework_is_one_clear_error(ct, chat):
    ct.run("mkdir -p /root/sanic && printf 'from sanic import Sanic\\napp = Sanic(\"x\")\\n' "
           "> /root/sanic/main.py")
    before = sh.footprint(ct)
    proc = mksite(ct, "asgi sanic --from /root/sanic --domain sanic.example.org", check=False)
    sh.assert_one_clear_error(proc, "No ASGI app found")
    assert sh.footprint(ct) == before


def test_a_new_asgi_site_serves_the_placeholder(ct, chat):
    proc = mksite(ct, "asgi hello --domain hello.example.org")
    assert "Site 'hello' is live" in proc.stdout
    assert "Hello from PWS (ASGI)" in request(ct, "hello.example.org", "/").body
