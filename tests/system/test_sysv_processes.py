"""Issue 14 without systemd: a Debian 12 booted with sysvinit-core, a site's processes
supervised like its web process (restarted on exit, an alert after a restart loop), its timers
as cron lines that run `pws timer NAME run`, locked so that runs never overlap."""
from __future__ import annotations

import time

import pytest

import container
import site_helpers as sh
from test_sysvinit import SysVContainer, sysv_image

HOST = "q.example.org"


@pytest.fixture(scope="module")
def sysq(debs, wheelhouse):
    with SysVContainer(sysv_image(), wheelhouse) as ct:
        container.install_debs(ct, [d for d in debs if d.name.startswith("pws_")])
        sh.install_projects(ct)
        ct.run(f"mksite wsgi q --from {sh.CT_PROJECTS}/queue_app --app app:app --domain {HOST} "
               "--yes", timeout=600)
        yield ct


def wait_for(check, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while not (value := check()) and time.monotonic() < deadline:
        time.sleep(0.5)
    return value


def body(ct, path: str) -> str:
    return container.http(ct, f"http://127.0.0.1{path}", host=HOST, timeout=5)[1]


def supervised_pid(ct, item: str = "worker") -> str:
    return ct.run(f"pgrep -u pws-q -f 'worker.py {item}' || true").stdout.strip()


def test_the_procfile_worker_runs_under_its_supervisor_and_consumes_the_queue(sysq):
    assert sysq.exists("/run/pws/q.proc.worker.1.pid")
    body(sysq, "/enqueue/job1")
    assert wait_for(lambda: "done by procfile" in body(sysq, "/done/job1"))
    assert "active (running)" in sysq.run("pws process q list").stdout


def test_a_killed_worker_is_started_again(sysq):
    pid = wait_for(lambda: supervised_pid(sysq, "procfile"))
    sysq.run(f"kill -9 {pid}")
    new = wait_for(lambda: (p := supervised_pid(sysq, "procfile")) and p != pid and p)
    assert new and new != pid


def test_a_process_that_exits_at_once_is_an_alert_and_the_site_serves(sysq):
    sysq.run("pws process q add broken -- python -c 'raise SystemExit(3)'")
    assert wait_for(lambda: "restart loop" in sysq.run("pws alerts").stdout, 30)
    assert body(sysq, "/") == "queue app"
    sysq.run("pws process q remove broken")
    assert not sysq.exists("/run/pws/q.proc.broken.1.pid")


def test_timers_are_cron_lines_and_runs_never_overlap(sysq):
    sysq.run("pws timer q add tick '*:0/5' -- python tick.py 4")
    assert "0-59/5 * * * * root /usr/bin/pws timer q run tick\n" in \
        sysq.run("cat /etc/cron.d/pws-q").stdout
    sysq.run("pws timer q run tick & sleep 1; pws timer q run tick; wait", timeout=60)
    assert len(sysq.run("cat /srv/pws/q/data/ticks").stdout.split()) == 1  # the 2nd skipped
    assert not sysq.run("cat /srv/pws/q/data/overlaps 2>/dev/null || true").stdout
    proc = sysq.run("pws timer q add bad 'Mon *-*-* 04:00' -- python tick.py", check=False)
    assert proc.returncode != 0 and "no cron equivalent" in proc.stderr
    assert "bad" not in sysq.run("cat /etc/pws/sites/q.toml /etc/cron.d/pws-q").stdout


def test_rmsite_stops_the_supervisors_and_removes_the_cron_file(sysq):
    sysq.run("rmsite q --yes --delete-source", timeout=300)
    assert not sysq.exists("/etc/cron.d/pws-q")
    assert not sysq.run("ls /run/pws | grep proc || true").stdout
    assert not sysq.run("pgrep -f 'pws.services.sysv_processe[s]' || true").stdout
