"""The system-test harness itself: boot, nginx, offline pip, clean stop (no pws code needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import container
from container import Container, http

GUNICORN = next(r for r in container.pinned_requirements()
                if container.requirement_name(r) == "gunicorn")


def test_boots_with_systemd_as_pid1(bare_ct):
    assert bare_ct.run(["systemctl", "is-system-running"]).stdout.strip() == "running"
    assert bare_ct.run(["ps", "-o", "comm=", "-p", "1"]).stdout.strip() == "systemd"
    assert bare_ct.run(["hostname"]).stdout.strip() == bare_ct.name


def test_network_is_private(bare_ct):
    links = bare_ct.run(["ip", "-o", "link"]).stdout
    assert [line.split(":")[1].strip() for line in links.splitlines()] == ["lo"]


def test_nginx_serves_the_debian_default_page(bare_ct):
    assert bare_ct.run(["systemctl", "is-active", "nginx"]).stdout.strip() == "active"
    status, body = http(bare_ct, "http://127.0.0.1/")
    assert status == 200
    assert "Welcome to nginx!" in body


def test_http_reports_no_answer_as_status_0(bare_ct):
    status, error = http(bare_ct, "http://127.0.0.1:9/", timeout=2)
    assert status == 0 and "connect" in error.lower()


def test_run_raises_with_command_output(bare_ct):
    with pytest.raises(container.CommandError) as caught:
        bare_ct.run("echo out; echo err >&2; exit 3")
    assert caught.value.returncode == 3
    message = str(caught.value)
    assert "exit 3" in message and "out" in message and "err" in message


def test_run_environment_is_clean(bare_ct):
    env = bare_ct.run(["env"], env={"EXTRA": "1"}).stdout
    assert "EXTRA=1" in env
    assert "PIP_FIND_LINKS" not in env and "pyenv" not in env


def test_files_in_and_out(bare_ct, tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app/hello.py").write_text("x = 1\n")
    bare_ct.copy_in(tmp_path / "app", "/root/app")
    bare_ct.write_file("/tmp/note.txt", "on tmpfs\n", mode=0o600)
    assert bare_ct.read_file("/root/app/hello.py") == "x = 1\n"
    assert bare_ct.read_file("/tmp/note.txt") == "on tmpfs\n"
    assert bare_ct.run(["stat", "-c", "%a %U", "/tmp/note.txt"]).stdout.split() == ["600", "root"]
    assert bare_ct.exists("/etc/nginx/sites-enabled/default")
    assert not bare_ct.exists("/etc/nope")


def test_pip_installs_from_the_wheelhouse_without_network(bare_ct):
    bare_ct.run(["python3", "-m", "venv", "/tmp/venv"])
    proc = bare_ct.run(["/tmp/venv/bin/pip", "download", "--no-deps", GUNICORN, "-d", "/tmp/x"])
    version = GUNICORN.split("==")[1]
    assert bare_ct.exists(f"/tmp/x/gunicorn-{version}-py3-none-any.whl"), proc.stdout


def _processes_mentioning(word: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if word in args:
            found.append(f"{cmdline.parent.name}: {args}")
    return found


def test_stop_leaves_nothing_behind(image, wheelhouse, monkeypatch):
    monkeypatch.delenv("PWS_KEEP_CONTAINER", raising=False)
    with Container(image, wheelhouse) as ct:
        ct.run("sleep 600 >/dev/null 2>&1 &", timeout=10)  # a stray process
        leader, workdir = ct.leader_pid, ct.workdir
        assert _processes_mentioning(ct.name)  # the nspawn command line names the machine
    assert _processes_mentioning(ct.name) == []
    assert not Path(f"/proc/{leader}").exists()
    assert not workdir.exists()


def test_failed_boot_raises_and_cleans_up(tmp_path, monkeypatch):
    monkeypatch.delenv("PWS_KEEP_CONTAINER", raising=False)
    (tmp_path / "tree/etc").mkdir(parents=True)
    subprocess.run(["tar", "-C", tmp_path / "tree", "-cf", tmp_path / "bad.tar", "."], check=True)
    ct = Container(tmp_path / "bad.tar", boot_timeout=10)
    with pytest.raises(container.ContainerError, match="os-release"):
        with ct:
            pass
    assert not ct.running and ct.workdir is None
