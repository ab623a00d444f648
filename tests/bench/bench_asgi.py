"""`make bench` parts of issue 14: ASGI through pws vs uvicorn alone, websocket echo
round-trips, and the proxy overhead of each gunicorn worker class with and without nginx
keeping its upstream connections alive (`keepalive` in the upstream block)."""
from __future__ import annotations

import statistics
from pathlib import Path

SYSTEM = Path(__file__).resolve().parent.parent / "system"

ECHO = '''
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        body = b"Hello, world!"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"),
                                (b"content-length", b"13")]})
        await send({"type": "http.response.body", "body": body})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": "hello"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        await send({"type": "websocket.send", "text": message.get("text") or ""})
'''
HOST = "ahello.example.org"
WS_RUNS, WS_MESSAGES, WS_CLIENTS = 3, 2000, 4


def _setup(b) -> None:
    if b.ct.exists("/etc/pws/sites/ahello.toml"):
        return
    b.ct.write_file("/root/ahello/hello.py", ECHO)
    b.ct.copy_in(SYSTEM / "wsclient.py", "/root/wsclient.py")
    b.sh(f"mksite asgi ahello --app hello:app --from /root/ahello --domain {HOST} --yes")
    b.sh("systemd-run --unit bench-direct-uvicorn --uid pws-ahello --gid pws-ahello "
         "-p WorkingDirectory=/srv/pws/ahello/current/app "
         "/srv/pws/ahello/current/venv/bin/uvicorn --workers 2 --host 127.0.0.1 --port 8011 "
         "--no-access-log --log-level warning hello:app")
    b.sh("for i in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:8011/ && exit 0; "
         "sleep 0.1; done; exit 1")


def asgi(b) -> list[tuple]:
    """ASGI hello through nginx (pws) vs uvicorn alone with the same 2 workers, and vs the
    same gunicorn + uvicorn worker alone on TCP. (uvicorn alone with --workers binds a socket
    whose accepted connections keep Nagle's algorithm on: with client keep-alive each response
    waits for a delayed ACK, about 40 ms; gunicorn sets TCP_NODELAY on its socket.)"""
    _setup(b)
    _direct(b, "ahello", 8023, "asgi")
    rows = []
    for label, port in (("uvicorn direct", 8011), ("gunicorn + uvicorn worker direct", 8023)):
        for keepalive in (True, False):
            ka = "keep-alive" if keepalive else "no keep-alive"
            pws, direct = b.interleaved(f"asgi hello vs {label} {ka}", "http://127.0.0.1/",
                                        f"http://127.0.0.1:{port}/", HOST, keepalive)
            rows.append((f"ASGI hello via nginx (pws) vs {label}, {ka}",
                         f"{pws['rps']:.0f} vs {direct['rps']:.0f} req/s",
                         f"p50 {pws['p50_ms']:.2f}/{direct['p50_ms']:.2f} ms, "
                         f"p99 {pws['p99_ms']:.2f}/{direct['p99_ms']:.2f} ms",
                         pws["rps"] / direct["rps"]))
    b.sh("systemctl stop bench-direct-ahello-asgi")
    return rows


def _ws_rate(b, port: int, clients: int) -> float:
    """Echo round-trips per second over `clients` websockets in parallel."""
    env = "" if port == 80 else f"WS_PORT={port} "
    out = b.sh(f"for i in $(seq {clients}); do {env}python3 /root/wsclient.py {HOST} /ws rate "
               f"{WS_MESSAGES} | tail -1 & done; wait")
    seconds = max(float(line.split()[1]) for line in out.splitlines() if line.strip())
    return clients * WS_MESSAGES / seconds


def websockets(b) -> list[tuple]:
    _setup(b)
    rows = []
    for clients in (1, WS_CLIENTS):
        pairs = [(_ws_rate(b, 80, clients), _ws_rate(b, 8011, clients)) for _ in range(WS_RUNS)]
        b.raw[f"websocket echo x{clients}"] = pairs
        pws, direct = (statistics.median(p[i] for p in pairs) for i in (0, 1))
        rows.append((f"websocket echo via nginx (pws) vs uvicorn direct, {clients} client(s)",
                     f"{pws:.0f} vs {direct:.0f} round-trips/s", "", pws / direct))
    return rows


# --- sync vs gthread vs the ASGI worker, with and without upstream keep-alive
CONF = "/etc/pws/gunicorn/{site}.conf.py"
VHOST = "/etc/nginx/sites-available/pws-{site}.conf"


def _configure(b, site: str, worker: str, upstream_keepalive: bool) -> None:
    """Switch the site's generated files for one measurement (put back by `pws apply`)."""
    conf, vhost = CONF.format(site=site), VHOST.format(site=site)
    b.sh(f"sed -i '/^# bench:/,$d' {conf}")
    if worker == "gthread":
        b.sh(f"printf '# bench:\\nworker_class = \"gthread\"\\nthreads = 8\\n' >> {conf}")
    b.sh(f"sed -i '/^    keepalive /d' {vhost}")
    if upstream_keepalive:
        b.sh(f"sed -i 's/^\\(    server unix:.* backup;\\)$/\\1\\n    keepalive 32;/' {vhost}")
    b.sh(f"nginx -t -q && systemctl reload nginx && systemctl restart pws-site@{site}.service")
    b.sh(f"for i in $(seq 100); do curl -sf -o /dev/null -H 'Host: {site}.example.org' "
         "http://127.0.0.1/ && exit 0; sleep 0.1; done; exit 1")


def _direct(b, site: str, port: int, worker: str) -> None:
    unit = f"bench-direct-{site}-{worker}"
    flags = {"sync": "", "gthread": "-k gthread --threads 8",
             "asgi": "-k uvicorn_worker.UvicornWorker"}[worker]
    b.sh(f"systemctl stop {unit} 2>/dev/null || true")
    b.sh(f"systemd-run --unit {unit} --uid pws-{site} --gid pws-{site} "
         f"-p WorkingDirectory=/srv/pws/{site}/current/app "
         f"/srv/pws/{site}/current/venv/bin/gunicorn --no-control-socket -w 2 {flags} "
         f"-b 127.0.0.1:{port} hello:app")
    b.sh(f"for i in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:{port}/ && exit 0; "
         "sleep 0.1; done; exit 1")


def worker_classes(b) -> list[tuple]:
    _setup(b)
    rows = []
    cases = [("hello", "sync"), ("hello", "gthread"), ("ahello", "asgi")]
    for site, worker in cases:
        port = {"sync": 8021, "gthread": 8022, "asgi": 8023}[worker]
        _direct(b, site, port, worker)
        for upstream_keepalive in (False, True):
            _configure(b, site, worker, upstream_keepalive)
            up = "upstream keepalive" if upstream_keepalive else "no upstream keepalive"
            for keepalive in (True, False):
                ka = "client keep-alive" if keepalive else "no client keep-alive"
                pws, direct = b.interleaved(f"{worker} {up} {ka}", "http://127.0.0.1/",
                                            f"http://127.0.0.1:{port}/", f"{site}.example.org",
                                            keepalive)
                rows.append((f"{worker} worker, {up}, {ka}: pws vs gunicorn direct",
                             f"{pws['rps']:.0f} vs {direct['rps']:.0f} req/s",
                             f"p50 {pws['p50_ms']:.2f}/{direct['p50_ms']:.2f} ms",
                             pws["rps"] / direct["rps"]))
        b.sh(f"systemctl stop bench-direct-{site}-{worker}")
        b.sh(f"sed -i '/^# bench:/,$d' {CONF.format(site=site)}; pws apply {site} -q", 900)
    return rows
