"""Integration tier: a private nginx on a loopback port and a real gunicorn in a real venv,
driven by pws with a root prefix, so the host's own nginx and /etc stay untouched."""
import http.client
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pws import pins
from pws.nginx.server import NginxServer
from pws.paths import SOURCE_TREE, Paths

PIP_CACHE = "/var/cache/pws/pip"

NGINX_CONF = """\
user root root;
worker_processes 1;
pid {root}/run/nginx.pid;
error_log {root}/var/log/nginx/error.log;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port} default_server;
        server_name admin.example.org;
        return 200 "admin site\\n";
    }}
    include {root}/etc/nginx/sites-enabled/*;
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, host: str, path: str = "/") -> tuple[int, str, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(), dict(resp.getheaders())
    finally:
        conn.close()


def wait_for(predicate, what: str, within: float = 15.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="session")
def site_venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin/pip"), "install", "-q", "--disable-pip-version-check",
                    "--cache-dir", PIP_CACHE, pins.GUNICORN], check=True)
    return venv


@pytest.fixture(scope="module")
def private_nginx(tmp_path_factory):
    root = tmp_path_factory.mktemp("root")
    port = free_port()
    for d in ("etc/nginx/sites-available", "etc/nginx/sites-enabled", "run/pws", "var/log/nginx", "tmp"):
        (root / d).mkdir(parents=True)
    conf = root / "etc/nginx/nginx.conf"
    conf.write_text(NGINX_CONF.format(root=root, port=port))
    cmd = ("nginx", "-p", str(root), "-c", str(conf))
    subprocess.run([*cmd, "-t", "-q"], check=True)
    subprocess.run(cmd, check=True)
    paths = Paths(root=root, share=SOURCE_TREE)
    web = NginxServer(paths, nginx_cmd=cmd, use_systemd=False, listen=(f"127.0.0.1:{port}",),
                      pid_file=root / "run/nginx.pid")
    wait_for(lambda: get(port, "admin.example.org")[0] == 200, "the private nginx")
    yield web, port
    subprocess.run([*cmd, "-s", "quit"], check=False)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def gunicorn_for():
    procs = []

    def start(venv: Path, conf: Path, sock: Path) -> subprocess.Popen:
        proc = subprocess.Popen([str(venv / "bin/gunicorn"), "--config", str(conf)],
                                stdout=sys.stderr, stderr=sys.stderr)
        procs.append(proc)
        wait_for(sock.exists, f"gunicorn socket {sock}")
        return proc

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=30)
