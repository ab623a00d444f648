"""Issue 14, processes and timers in the booted container: a Procfile worker consuming a
file-based queue, `pws process` add/scale/remove, crash respawn, a restart loop that becomes
an alert while the site serves, restart after each deploy, hardening; timers that fire,
without overlap, persistent; bad input and hostile names leaving nothing behind."""
from __future__ import annotations

import time

import pytest

import site_helpers as sh
from site_helpers import mksite, request

HOST = "q.example.org"


@pytest.fixture(scope="module")
def q(ct):
    sh.install_projects(ct)
    proc = mksite(ct, f"wsgi q --from {sh.CT_PROJECTS}/queue_app --app app:app --domain {HOST}")
    yield proc
    sh.print_timings("test_processes")


def wait_for(check, seconds: float = 30, step: float = 0.5):
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def data(ct, name: str) -> str:
    return ct.run(f"cat /srv/pws/q/data/{name} 2>/dev/null || true").stdout


def active(ct, unit: str) -> str:
    return ct.run(f"systemctl is-active {unit}", check=False).stdout.strip()


def test_the_procfile_worker_consumes_the_queue(ct, q):
    assert "Procfile web: ignored" in q.stdout
    assert "releases/1/app" in data(ct, "released")  # the Procfile's release: command ran
    assert request(ct, HOST, "/enqueue/job1").body == "queued"
    done = wait_for(lambda: "done by procfile" in request(ct, HOST, "/done/job1").body)
    assert done, request(ct, HOST, "/done/job1").body
    listing = ct.run("pws process q list").stdout
    assert "worker" in listing and "Procfile" in listing and "active (running)" in listing


def test_the_worker_is_the_site_user_in_the_sandbox(ct, q):
    info = data(ct, "procfile-1.info")
    uid = ct.run("id -u pws-q").stdout.strip()
    assert f"uid={uid}" in info and "app dir read-only" in info
    assert "release=/srv/pws/q/releases/1" in info


def test_add_scale_and_status_and_logs(ct, q):
    out = ct.run("pws process q add extra -- python worker.py extra").stdout
    assert "pws-proc-q.extra@1.service" in out
    ct.run("pws process q scale extra=2")
    assert wait_for(lambda: active(ct, "pws-proc-q.extra@2.service") == "active")
    assert "count = 2" in ct.run("cat /etc/pws/sites/q.toml").stdout
    status = ct.run("pws status q").stdout
    assert "pws-proc-q.extra@1.service active (running)" in status
    assert "pws-proc-q.extra@2.service active (running)" in status
    for job in ("job2", "job3", "job4"):
        request(ct, HOST, f"/enqueue/{job}")
    assert wait_for(lambda: all("done by" in request(ct, HOST, f"/done/{j}").body
                                for j in ("job2", "job3", "job4")))
    assert wait_for(lambda: "extra started" in ct.run("pws logs q --process extra").stdout)
    ct.run("pws process q scale extra=1")
    assert wait_for(lambda: active(ct, "pws-proc-q.extra@2.service") != "active")
    ct.run("pws process q remove extra")
    assert "extra" not in ct.run("pws process q list").stdout
    assert not ct.exists("/etc/systemd/system/pws-proc-q.extra@.service")


def test_a_killed_worker_is_restarted(ct, q):
    pid = ct.run("systemctl show -P MainPID pws-proc-q.worker@1.service").stdout.strip()
    ct.run(f"kill -9 {pid}")
    new = wait_for(lambda: (p := ct.run("systemctl show -P MainPID pws-proc-q.worker@1.service")
                            .stdout.strip()) not in ("0", pid) and p)
    assert new and new != pid


def test_a_deploy_restarts_the_worker_on_the_new_release_after_the_web(ct, q):
    ct.run(f"pws deploy q --from {sh.CT_PROJECTS}/queue_app", timeout=600)
    assert wait_for(lambda: "release=/srv/pws/q/releases/2" in data(ct, "procfile-1.info"))
    web = ct.run("systemctl show -P ExecMainStartTimestampMonotonic pws-site@q.service").stdout
    work = ct.run("systemctl show -P ExecMainStartTimestampMonotonic "
                  "pws-proc-q.worker@1.service").stdout
    switched = ct.run("journalctl -u pws-site@q.service -o short-monotonic -q --no-pager "
                      "| tail -1").stdout
    assert int(work) > int(web) and switched
    assert "releases/2/app" in data(ct, "released")


def test_a_process_that_exits_at_once_is_an_alert_and_the_site_serves(ct, q):
    ct.run("pws process q add broken -- python -c 'raise SystemExit(3)'")
    assert wait_for(lambda: active(ct, "pws-proc-q.broken@1.service") == "failed", seconds=40)
    alerts = wait_for(lambda: "restart loop" in (out := ct.run("pws alerts").stdout) and out, 20)
    assert alerts and "process: broken" in alerts
    assert request(ct, HOST, "/").body == "queue app"
    ct.run("pws process q remove broken")


def test_a_timer_fires_without_overlap_and_is_persistent(ct, q):
    ct.run("pws timer q add tick '*:*:0/2' -- python tick.py 5")
    listing = ct.run("pws timer q list").stdout
    assert "tick" in listing and "*:*:0/2" in listing
    assert ct.run("systemctl show -P Persistent pws-timer-q.tick.timer").stdout.strip() == "yes"
    assert wait_for(lambda: len(data(ct, "ticks").split()) >= 2, seconds=40)
    assert "overlap" not in data(ct, "overlaps")
    ct.run("pws timer q remove tick")
    assert not ct.exists("/etc/systemd/system/pws-timer-q.tick.timer")


def test_a_failing_timer_run_is_an_alert(ct, q):
    ct.run("pws timer q add fails '*:*:0/3' -- python -c 'raise SystemExit(2)'")
    assert wait_for(lambda: "timer fails: its run failed" in ct.run("pws alerts").stdout, 40)
    ct.run("pws timer q remove fails")


@pytest.mark.parametrize("args, message", [
    ("timer q add bad '25:99' -- python tick.py", "is not a valid calendar spec"),
    ("timer q add bad $'03:00\\nExecStartPre=/bin/id' -- python tick.py",
     "not a calendar spec pws accepts"),
    ("timer q add bad '%h' -- python tick.py", "not a calendar spec pws accepts"),
    ("process q add ../../etc -- python worker.py", "is not valid"),
    ("process q add 'a.b' -- python worker.py", "is not valid"),
    ("process q add w -- /bin/sh -c id", "is not a command line"),
    ("process q add w -- $'python\\nExecStart=/bin/sh'", "is not a command line"),
    ("process q add w", "No command given"),
    ("process q scale worker=99", "count 99"),
    ("process q scale nope=1", "has no process 'nope'"),
    ("process q remove nope", "has no process"),
])
def test_bad_input_is_one_line_and_changes_nothing(ct, q, args, message):
    before = ct.run("cat /etc/pws/sites/q.toml; ls /etc/systemd/system | grep pws-").stdout
    proc = ct.run(f"pws {args}", check=False)
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert len([l for l in proc.stderr.splitlines() if l.startswith("pws: error:")]) == 1
    assert ct.run("cat /etc/pws/sites/q.toml; ls /etc/systemd/system | grep pws-").stdout == before


def test_a_hostile_procfile_refuses_the_deploy_and_the_live_release_stays(ct, q):
    ct.run(f"rm -rf /root/hostile && cp -r {sh.CT_PROJECTS}/queue_app /root/hostile && "
           "printf 'worker: python worker.py\\nevil\\n' > /root/hostile/Procfile")
    proc = ct.run("pws deploy q --from /root/hostile", check=False, timeout=600)
    assert proc.returncode != 0 and "Procfile line 2" in proc.stderr, proc.stderr
    ct.run("ln -sf /etc/shadow /root/hostile/Procfile")
    proc = ct.run("pws deploy q --from /root/hostile", check=False, timeout=600)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert request(ct, HOST, "/").body == "queue app"
    assert active(ct, "pws-proc-q.worker@1.service") == "active"


def test_rmsite_removes_every_process_and_timer_unit(ct, q):
    ct.run("pws timer q add later 'daily' -- python tick.py")
    ct.run("rmsite q --yes --delete-source", timeout=300)
    assert not ct.run("ls /etc/systemd/system | grep 'pws-proc-q\\|pws-timer-q' || true").stdout
    # Nothing of them runs or is loaded from a file. systemd may keep a removed unit in memory
    # as "not-found inactive dead" for a while (until nothing refers to it): that is no file
    # and no process, so it is allowed.
    listed = ct.run("systemctl list-units --all --plain --no-legend 'pws-*'").stdout
    left = [line for line in listed.splitlines()
            if ("pws-proc-q" in line or "pws-timer-q" in line)
            and line.split()[1:4] != ["not-found", "inactive", "dead"]]
    assert not left, listed
