"""Issue 5, 'without systemd': a Debian 12 booted with sysvinit-core (no systemd at all), the
same .debs installed with apt, sites started, crash-restarted and reloaded by /etc/init.d/pws."""
from __future__ import annotations

import subprocess
import time

import pytest

import container

SYSV_BASE = ["sysvinit-core", "nginx", "curl", "procps", "iproute2", "ca-certificates",
             "logrotate"]
# trixie's cron-daemon-common (cron, through logrotate) needs "systemd | systemd-standalone-sysusers
# | systemd-sysusers": without the standalone one apt takes the systemd package (not systemd-sysv,
# so /sbin/init stays sysvinit), and systemd-nspawn --boot prefers /usr/lib/systemd/systemd to
# /sbin/init: the container booted systemd. A systemd-free trixie installs the standalone one.
SYSV_SUITE = {"bookworm": [], "trixie": ["systemd-standalone-sysusers"]}
APP = '''
import os

VERSION = "sysv-1"

def app(environ, start_response):
    data = (os.environ.get("PWS_SITE", "-") if environ["PATH_INFO"] == "/env" else VERSION).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
'''


class SysVContainer(container.Container):
    """The harness's container, booted with sysvinit as PID 1 instead of systemd."""

    def _wait_until_running(self, deadline: float) -> str:
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                level = self.run(["runlevel"], check=False, timeout=5).stdout.strip()
            except subprocess.TimeoutExpired:
                level = ""
            if level.endswith(" 2") and self.run("pgrep -x nginx", check=False).returncode == 0:
                return f"runlevel {level}"
            time.sleep(0.2)
        self._fail("sysvinit did not reach runlevel 2 with nginx running")

    def stop(self, timeout: float = 3) -> None:
        super().stop(timeout)  # sysvinit ignores nspawn's poweroff signal: killed after 3 s


def sysv_image():
    """sysvinit-core instead of systemd, plus what the pws package depends on."""
    pws_debs = [d for d in container.find_debs() if d.name.startswith("pws_")]
    packages = sorted({*SYSV_BASE, *SYSV_SUITE[container.SUITE],
                       *container.deb_dependencies(pws_debs)})
    path = container.IMAGES / f"{container.SUITE}-sysvinit-{container._digest(packages)}.tar"
    with container._Lock(container.IMAGES / ".lock"):
        if not path.exists():
            container._build_image(packages, path)
    tree = container.ensure_tree(path)
    if (tree / "usr/lib/systemd/systemd").exists():  # nspawn would boot it, not sysvinit
        raise container.ContainerError(f"{path.name}: the sysvinit image has systemd installed")
    return path


@pytest.fixture(scope="module")
def sysv(debs, wheelhouse):
    with SysVContainer(sysv_image(), wheelhouse) as ct:
        assert not ct.exists("/run/systemd/system")
        container.install_debs(ct, [d for d in debs if d.name.startswith("pws_")])
        ct.write_file("/root/hello/hello.py", APP)
        ct.run("mksite wsgi hello --app hello:app --from /root/hello --domain hello.example.org "
               "--yes", timeout=600)
        yield ct


def serving(ct, want: str, within: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < within:
        status, body = container.http(ct, "http://127.0.0.1/", host="hello.example.org", timeout=2)
        if status == 200 and want in body:
            return time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError(f"not serving {want!r} within {within}s: {status} {body[:200]!r}")


def master_pid(ct) -> str:
    """The running gunicorn master's pid ('' between a crash and the restart)."""
    return ct.run("cat /run/pws/hello.pid 2>/dev/null || true").stdout.strip()


def test_site_serves_without_systemd(sysv):
    assert container.http(sysv, "http://127.0.0.1/", host="hello.example.org") == (200, "sysv-1")
    assert "hello" in sysv.run("/etc/init.d/pws status").stdout
    assert sysv.run("stat -c '%U %G %a' /run/pws/hello.sock").stdout.strip() == \
        "root www-data 660"
    users = set(sysv.run("ps -o user= --ppid " + master_pid(sysv)).stdout.split())
    assert users in ({"pws-hello"}, {"pws-hel+"})


def test_no_process_of_the_site_runs_as_root(sysv):
    """Issue 9 item 1: the gunicorn master ran as root with the site's env, then dropped."""
    site_uid = sysv.run("id -u pws-hello").stdout.strip()
    master = master_pid(sysv)
    assert uids(sysv, master) == {site_uid}  # real, effective, saved, filesystem
    gunicorns = sysv.run("pgrep -f '[g]unicorn --config /etc/pws/gunicorn/hello'").stdout.split()
    assert master in gunicorns and len(gunicorns) == 3  # master + 2 workers
    for pid in gunicorns:
        assert uids(sysv, pid) == {site_uid}
    supervisor = sysv.read_file("/run/pws/hello.supervisor.pid").strip()
    assert uids(sysv, supervisor) == {"0"}
    # The site's env reaches the app (its gunicorn config reads it, as the site user) ...
    assert container.http(sysv, "http://127.0.0.1/env", host="hello.example.org") == (200, "hello")
    assert "PWS_SITE=" not in environ(sysv, supervisor)  # ... and no root process


def test_the_log_is_root_adm_0640_in_a_0750_dir(sysv):
    assert sysv.run("stat -c '%U %G %a' /var/log/pws/hello.log /var/log/pws").stdout.split(
        "\n")[:2] == ["root adm 640", "root adm 750"]
    assert "Listening at: unix:/run/pws/hello.sock" in sysv.read_file("/var/log/pws/hello.log")


def uids(ct, pid: str) -> set[str]:
    line = next(ln for ln in ct.read_file(f"/proc/{pid}/status").splitlines()
                if ln.startswith("Uid:"))
    return set(line.split()[1:])


def environ(ct, pid: str) -> str:
    return ct.run(f"tr '\\0' '\\n' < /proc/{pid}/environ").stdout


def test_a_killed_master_is_restarted_by_the_supervisor(sysv):
    old = master_pid(sysv)
    sysv.run(f"kill -9 {old}")
    killed = time.monotonic()
    while master_pid(sysv) in (old, ""):
        assert time.monotonic() - killed < 30, "the supervisor did not restart gunicorn"
        time.sleep(0.05)
    restarted = time.monotonic() - killed
    took = restarted + serving(sysv, "sysv-1", 30)
    print(f"\nsysvinit: new master {restarted:.2f} s after kill -9 of the old one; "
          f"serving through it after {took:.2f} s")
    assert "gunicorn exited (-9); restart 1" in sysv.read_file("/var/log/pws/hello.log")


def test_init_script_reloads_new_code_and_stops_and_starts(sysv):
    sysv.run("sed -i 's/sysv-1/sysv-2/' /srv/pws/hello/current/app/hello.py")
    sysv.run("/etc/init.d/pws reload")
    assert container.http(sysv, "http://127.0.0.1/", host="hello.example.org") == (200, "sysv-2")
    sysv.run("/etc/init.d/pws stop")
    assert container.http(sysv, "http://127.0.0.1/", host="hello.example.org")[0] == 503
    sysv.run("/etc/init.d/pws start")
    serving(sysv, "sysv-2", 30)


def test_deploy_and_rollback_without_systemd_keep_the_socket(sysv):
    """The supervisor starts gunicorn again from the new release on HUP, keeping its socket:
    requests wait for the boot, none is refused."""
    crashes = sysv.read_file("/var/log/pws/hello.log").count("gunicorn exited")
    sysv.run("cp -a /root/hello /root/hello3 && sed -i 's/sysv-1/sysv-3/' /root/hello3/hello.py")
    sysv.run("pws deploy hello --from /root/hello3", timeout=600)
    assert container.http(sysv, "http://127.0.0.1/", host="hello.example.org") == (200, "sysv-3")
    sysv.run("pws rollback hello", timeout=120)
    assert container.http(sysv, "http://127.0.0.1/", host="hello.example.org")[0] == 200
    assert container.http(sysv, "http://127.0.0.1/", host="hello.example.org")[1] != "sysv-3"
    # A switch is not a crash: it counts against no restart limit.
    assert sysv.read_file("/var/log/pws/hello.log").count("gunicorn exited") == crashes


def test_rmsite_without_systemd(sysv):
    sysv.run("rmsite hello --yes --delete-source")
    assert not sysv.exists("/srv/pws/hello")
    assert sysv.run("pgrep -f '[p]ws.services.sysvinit hello'", check=False).returncode == 1
    assert sysv.run("getent passwd pws-hello", check=False).returncode == 2
