"""Issue 5 under real load in the booted container: crashes, hangs, restart loops, reloads,
package upgrades and hardening, each with its figures (printed as a table at the end)."""
from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

import container

HERE = Path(__file__).resolve().parent
FIGURES: dict[str, str] = {}

APP = '''
import pathlib, time
time.sleep(2)  # an app that takes 2 s to import
VERSION = "version-1"

def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/hang":
        time.sleep(3600)
    if path == "/write":
        home = pathlib.Path("/srv/pws/steady")
        (home / "media" / "m.txt").write_text("m")
        (home / "data" / "d.txt").write_text("d")
        pathlib.Path("/tmp/pws-private-check").write_text("t")
        try:
            (home / "current" / "app" / "x.txt").write_text("x")
            body = "app dir writable"
        except OSError:
            body = "wrote media and data"
    else:
        body = VERSION
    data = body.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
'''
BROKEN = "raise RuntimeError('this app is broken at import')\n"


def load(ct, seconds: float, expect: str = "version-", concurrency: int = 4) -> dict:
    proc = ct.run(f"python3 /root/loadclient.py --host steady.example.org --expect {expect} "
                  f"--concurrency {concurrency} --duration {seconds}", timeout=seconds + 120)
    return json.loads(proc.stdout)


def under_load(ct, seconds: float, action, after: float = 2.0, expect: str = "version-") -> dict:
    """Run action() `after` seconds into a load of `seconds`; the load's figures."""
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(load(ct, seconds, expect)))
    thread.start()
    time.sleep(after)
    action()
    thread.join()
    return result


def main_pid(ct, site="steady") -> str:
    return ct.run(f"systemctl show -p MainPID --value pws-site@{site}.service").stdout.strip()


def wait_serving(ct, host: str, want: str, within: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within:
        status, body = container.http(ct, "http://127.0.0.1/", host=host, timeout=2)
        if status == 200 and want in body:
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"{host} not serving {want!r} after {within}s")


@pytest.fixture(scope="module")
def steady(ct):
    ct.copy_in(HERE / "loadclient.py", "/root/loadclient.py")
    ct.write_file("/root/steady/steady.py", APP)
    ct.write_file("/root/other/other.py", APP.replace("time.sleep(2)", "pass"))
    ct.run("mksite wsgi steady --app steady:app --from /root/steady --domain steady.example.org "
           "--timeout 5 --yes", timeout=600)
    ct.run("mksite wsgi other --app other:app --from /root/other --domain other.example.org --yes",
           timeout=600)
    wait_serving(ct, "steady.example.org", "version-1", 30)
    return ct


def record(name: str, figures: dict) -> None:
    FIGURES[name] = (f"{figures['failed']} failed of {figures['requests']}, "
                     f"max {figures['max_s'] * 1000:.0f} ms, p99 {figures['p99_s'] * 1000:.0f} ms, "
                     f"{figures['stale_keepalive_retries']} keep-alive retries")


@pytest.mark.parametrize("what", ["master", "worker", "all"])
def test_kill_9_under_load_fails_no_request(steady, what):
    ct = steady

    def kill():
        pid = main_pid(ct)
        if what == "master":
            ct.run(f"kill -9 {pid}")
        elif what == "worker":
            ct.run(f"kill -9 $(pgrep -P {pid} | head -1)")
        else:
            ct.run("systemctl kill --signal=SIGKILL pws-site@steady.service")

    since = ct.run("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    figures = under_load(ct, 10, kill)
    record(f"kill -9 {what}", figures)
    if set(figures["failures"]) - {"IncompleteRead"} or figures["requests"] <= 100:
        print(ct.run("systemctl status --no-pager pws-site@steady.service pws-site@steady.socket; "
                     f"journalctl --no-pager -o short-precise --since '{since}' "
                     "-u pws-site@steady.service -u pws-site@steady.socket",
                     check=False).stdout[-6000:])
    assert figures["requests"] > 100
    # A worker killed between writing a response's header and its body (two writes in
    # gunicorn) leaves a response nginx has already started to send: no proxy can retry that.
    # So at most one truncated response per killed worker; every other request (queued in the
    # socket while gunicorn restarts, or retried by nginx on the same socket) succeeds.
    killed_workers = 1 if what == "worker" else 2
    assert set(figures["failures"]) <= {"IncompleteRead"}, figures
    assert figures["failed"] <= killed_workers, figures
    wait_serving(ct, "steady.example.org", "version-1", 30)


def test_a_hung_request_is_cut_by_the_worker_timeout(steady):
    ct = steady
    start = time.monotonic()
    out = ct.run("curl -s -o /dev/null -w '%{http_code}' --max-time 60 "
                 "-H 'Host: steady.example.org' http://127.0.0.1/hang", check=False).stdout
    took = time.monotonic() - start
    FIGURES["hung request cut after"] = f"{took:.1f} s (worker timeout 5 s), status {out}"
    # gunicorn answers 500 for a request whose worker it aborted; nginx's 503 page if none.
    assert out in ("500", "503") and took < 20
    assert container.http(ct, "http://127.0.0.1/", host="steady.example.org")[0] == 200


def test_a_stopped_site_is_found_by_the_watchdog_and_restarted(steady):
    """Master and workers stopped (SIGSTOP), with the default settings: the master no longer
    feeds systemd's watchdog (WatchdogSec=4), systemd kills and restarts the site; requests
    wait in the socket meanwhile."""
    ct = steady
    wait_serving(ct, "steady.example.org", "version-1", 30)
    # No reset of the start limit: the kill -9 tests above restarted the site twice seconds
    # ago, and a third crash within the minute must still be restarted (on systemd 257 too,
    # whose retried start jobs charge the limit several times per crash under traffic).
    since = ct.run("date '+%Y-%m-%d %H:%M:%S'").stdout.strip()
    ct.run("systemctl kill --signal=SIGSTOP pws-site@steady.service")
    try:
        took = wait_serving(ct, "steady.example.org", "version-1", 60)
    except AssertionError as e:
        raise AssertionError(f"{e}\n" + ct.run(
            "systemctl status --no-pager pws-site@steady.service pws-site@steady.socket; "
            f"journalctl --no-pager -o short-precise --since '{since}'", check=False).stdout)
    FIGURES["SIGSTOP detected and served again"] = (
        f"{took:.1f} s (bound: watchdog 4 s + RestartSec 1 s + start 2 s = 7 s)")
    assert took <= 10
    journal = ct.run(f"journalctl -u pws-site@steady.service --since '{since}' -o cat "
                     "--no-pager").stdout
    assert "Watchdog timeout" in journal, journal


def test_a_site_crashing_at_import_stops_restarting_and_answers_503(steady):
    ct = steady
    ct.write_file("/root/broken/broken.py", APP.replace("time.sleep(2)", "pass"))
    ct.run("mksite wsgi broken --app broken:app --from /root/broken --domain broken.example.org "
           "--yes", timeout=600)
    ct.write_file("/srv/pws/broken/current/app/broken.py", BROKEN)
    ct.run(f"kill -9 {main_pid(ct, 'broken')}")
    deadline = time.monotonic() + 60
    while ct.run("systemctl is-failed pws-site@broken.socket", check=False).stdout.strip() != "failed":
        container.http(ct, "http://127.0.0.1/", host="broken.example.org", timeout=3)
        assert time.monotonic() < deadline, ct.run("systemctl status pws-site@broken.service",
                                                   check=False).stdout
        time.sleep(0.5)
    start = time.monotonic()
    out = ct.run("curl -s -i --max-time 10 -H 'Host: broken.example.org' http://127.0.0.1/").stdout
    FIGURES["crash loop: answer once stopped"] = f"503 page in {time.monotonic() - start:.2f} s"
    assert out.startswith("HTTP/1.1 503") and "temporarily unavailable" in out
    status = ct.run("pws status broken").stdout
    assert "state:     failed" in status and "socket not listening" in status, status
    # Every crash was restarted until the start limit (5 starts in 60 s; on systemd 257 the
    # widened 15, of which each crash under traffic costs several) stopped it.
    burst = int(ct.run("systemctl show -P StartLimitBurst pws-site@broken.service").stdout)
    restarts = int(re.search(r"restarts:\s+(\d+)", status).group(1))
    assert 3 <= restarts <= burst, status
    assert "RuntimeError: this app is broken at import" in status, status
    deadline = time.monotonic() + 20  # OnFailure= runs pws-alert@broken.service meanwhile
    while "site: broken" not in (alerts := ct.run("pws alerts").stdout):
        assert time.monotonic() < deadline, alerts
        time.sleep(0.5)
    assert "RuntimeError: this app is broken at import" in alerts
    assert container.http(ct, "http://127.0.0.1/", host="other.example.org")[0] == 200


def test_rolling_reload_under_load_fails_nothing_and_serves_new_code(steady):
    ct = steady
    ct.run("sed -i 's/version-1/version-2/' /srv/pws/steady/current/app/steady.py")
    figures = under_load(ct, 12, lambda: ct.run("pws reload steady"))
    record("pws reload (2 s import)", figures)
    assert figures["failed"] == 0, figures
    assert figures["max_s"] < 1.0, figures
    assert container.http(ct, "http://127.0.0.1/", host="steady.example.org")[1] == "version-2"


def test_gunicorn_hup_for_comparison(steady):
    """Not the product path: gunicorn's own HUP, measured to show what the rolling reload avoids."""
    ct = steady
    figures = under_load(ct, 12, lambda: ct.run("systemctl reload pws-site@steady.service"))
    record("gunicorn HUP, for comparison", figures)
    assert figures["failed"] == 0, figures


def test_package_upgrade_rerenders_sites_under_load(steady):
    """An upgrade re-renders pws's own files and restarts what they changed, losing nothing
    (the site's env file is made stale here, as an older pws would have left it)."""
    ct = steady
    ct.run("sed -i '/^PWS_SITE=/d' /etc/pws/secrets/steady/env")
    figures = under_load(ct, 25, lambda: ct.run(
        "apt-get install -y --reinstall /root/debs/pws_*.deb", timeout=300))
    record("apt reinstall pws (re-renders all sites)", figures)
    assert figures["failed"] == 0, figures
    assert "PWS_SITE=steady" in ct.read_file("/etc/pws/secrets/steady/env")
    assert container.http(ct, "http://127.0.0.1/", host="steady.example.org")[0] == 200


def test_hardening_exposure_and_the_app_still_works(steady):
    ct = steady
    out = ct.run("systemd-analyze security pws-site@steady.service --no-pager").stdout
    score = float(re.search(r"Overall exposure level for \S+: ([\d.]+)", out).group(1))
    FIGURES["systemd-analyze security exposure"] = f"{score}"
    assert score <= 2.5, out
    assert container.http(ct, "http://127.0.0.1/write", host="steady.example.org") == (
        200, "wrote media and data")
    assert ct.run("cat /srv/pws/steady/media/m.txt /srv/pws/steady/data/d.txt").stdout == "md"
    assert not ct.exists("/tmp/pws-private-check")


def test_zz_print_the_figures(capsys):
    with capsys.disabled():
        print("\n\nPWS reliability figures (booted Debian 12, systemd, under load):")
        width = max(map(len, FIGURES), default=10)
        for name, value in FIGURES.items():
            print(f"  {name.ljust(width)}  {value}")
    assert FIGURES
