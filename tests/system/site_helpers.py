"""Helpers shared by the framework and database system tests: the sample projects, timed
mksite runs, HTTP through nginx or straight to a site's socket, load while an action runs,
and the system's footprint."""
from __future__ import annotations

import json
import re
import shlex
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PROJECTS = Path(__file__).resolve().parent / "projects"
CT_PROJECTS = "/root/projects"
TIMINGS: list[tuple[str, float]] = []  # (mksite command, seconds), printed by print_timings


def install_projects(ct) -> None:
    """The sample projects, in the container under /root/projects (owned by root)."""
    if not ct.exists(CT_PROJECTS):
        ct.copy_in(PROJECTS, CT_PROJECTS)


def copy_project(ct, name: str, dest: str) -> str:
    ct.run(f"rm -rf {dest} && mkdir -p $(dirname {dest}) && cp -r {CT_PROJECTS}/{name} {dest}")
    return dest


def mksite(ct, args: str, *, check: bool = True):
    """Run `mksite ARGS --yes`, timed; the time goes to TIMINGS and is printed (pytest -s)."""
    cmd = f"mksite {args} --yes"
    start = time.monotonic()
    proc = ct.run(cmd, check=check, timeout=900)
    took = time.monotonic() - start
    if proc.returncode == 0:
        TIMINGS.append((cmd, took))
    print(f"\n[timing] {cmd}: {took:.1f} s (exit {proc.returncode})")
    return proc


def load(ct, host: str, expect: str, seconds: float, concurrency: int = 4) -> dict:
    """/root/loadclient.py (copied in by the caller) against host through nginx: its figures."""
    proc = ct.run(f"python3 /root/loadclient.py --host {host} --expect {shlex.quote(expect)} "
                  f"--concurrency {concurrency} --duration {seconds}", timeout=seconds + 120)
    return json.loads(proc.stdout)


def under_load(ct, host: str, expect: str, seconds: float, action) -> tuple[dict, object]:
    """action() two seconds into a load of `seconds` (long enough to outlast it): the load's
    figures and what action returned."""
    figures: dict = {}
    thread = threading.Thread(target=lambda: figures.update(load(ct, host, expect, seconds)))
    thread.start()
    time.sleep(2)
    outcome = action()
    thread.join()
    return figures, outcome


def print_timings(title: str) -> None:
    print(f"\n[timing] {title}: mksite with a warm pip cache (wheels from the local wheelhouse)")
    for cmd, took in TIMINGS:
        print(f"[timing]   {took:5.1f} s  {cmd}")
    TIMINGS.clear()


@dataclass
class Response:
    status: int
    headers: dict[str, list[str]]
    body: str

    def header(self, name: str) -> list[str]:
        return self.headers.get(name.lower(), [])


def request(ct, host: str, path: str = "/", *, via_socket: str | None = None,
            data: str | None = None, extra: str = "") -> Response:
    """An HTTP request through nginx (127.0.0.1:80), or straight to a gunicorn socket."""
    target = (f"--unix-socket {shlex.quote(via_socket)} http://{host}{path}" if via_socket
              else f"http://127.0.0.1{path}")
    body = f"--data {shlex.quote(data)}" if data is not None else ""
    proc = ct.run(f"curl -sS -i --max-time 10 -H 'Host: {host}' {body} {extra} {target}", timeout=30)
    head, _, text = proc.stdout.replace("\r\n", "\n").partition("\n\n")
    lines = head.splitlines()
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers.setdefault(key.strip().lower(), []).append(value.strip())
    return Response(int(lines[0].split()[1]), headers, text)


def socket_of(name: str) -> str:
    return f"/run/pws/{name}.sock"


def pg(ct, sql: str, db: str = "postgres", user: str = "postgres") -> str:
    """psql as USER (peer authentication over the local socket); the rows, '|'-separated."""
    return ct.run(["runuser", "-u", user, "--", "psql", "-X", "-At", "-d", db, "-c", sql],
                  timeout=60).stdout.strip()


def pg_running(ct) -> bool:
    return ct.run("pg_isready -q -h /var/run/postgresql", check=False).returncode == 0


def pg_names(ct) -> str:
    """The pws-* roles and databases of the PostgreSQL server."""
    if not pg_running(ct):
        return "(postgresql not running)"
    roles = pg(ct, "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles "
                   "WHERE rolname LIKE 'pws-%'")
    dbs = pg(ct, "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database "
                 "WHERE datname LIKE 'pws-%'")
    return f"roles: {roles}\ndatabases: {dbs}"


def footprint(ct) -> str:
    """Everything a site can leave on the system, as one comparable text."""
    files = ct.run(
        "ls /etc/pws/sites /etc/pws/gunicorn /etc/pws/secrets /srv/pws 2>&1; "
        "ls /etc/nginx/sites-available /etc/nginx/sites-enabled; "
        "getent passwd | grep '^pws-' || true; getent group | grep '^pws-' || true; "
        "systemctl list-units --plain --no-legend --state=active,activating,deactivating,failed,"
        "reloading 'pws-site@*' | awk '{print $1, $3, $4}' || true; "
        "ls /etc/systemd/system/sockets.target.wants/ /etc/systemd/system/timers.target.wants/ "
        "2>/dev/null || true").stdout
    return files + pg_names(ct)


def assert_one_clear_error(proc, message: str) -> None:
    assert proc.returncode != 0, proc.stdout
    assert message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("mksite: error:")]
    assert len(errors) == 1, proc.stderr


def security_warnings(output: str) -> set[str]:
    return set(re.findall(r"\((security\.W\d+)\)", output))
