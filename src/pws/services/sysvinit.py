"""Systems booted without systemd: `pws supervise NAME`, daemonised by start-stop-daemon,
runs the site's gunicorn in the foreground and restarts it when it dies (1 s later, like
Restart=always), giving up after 5 crashes in 60 s (like StartLimitBurst) with an alert.

The gunicorn master binds the site's socket itself; the supervisor then hands the socket to
group www-data (mode 0660) so only nginx can connect, as under systemd.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..paths import Paths
from ..runner import run
from . import ServiceStatus
from .rolling import rolling_reload

RESTART_DELAY = 1.0
BURST, INTERVAL = 5, 60.0


class SysVInit:
    def __init__(self, paths: Paths | None = None):
        self.paths = paths or Paths.from_env()

    # --- files
    def _run_dir(self) -> Path:
        return self.paths.root / "run" / "pws"

    def _supervisor_pidfile(self, name: str) -> Path:
        return self._run_dir() / f"{name}.supervisor.pid"

    def _gunicorn_pidfile(self, name: str) -> Path:
        return self._run_dir() / f"{name}.pid"

    def ready_dir(self, name: str) -> Path:
        return self.paths.root / "run" / "pws-site" / name

    def log_file(self, name: str) -> Path:
        return self.paths.root / "var" / "log" / "pws" / f"{name}.log"

    def _pid(self, pidfile: Path) -> int | None:
        try:
            pid = int(pidfile.read_text().strip())
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None

    # --- the ServiceManager interface
    def install(self, name: str) -> None:
        self.start(name)

    def start(self, name: str) -> None:
        if self._pid(self._supervisor_pidfile(name)):
            return
        self._run_dir().mkdir(parents=True, exist_ok=True)
        self.log_file(name).parent.mkdir(parents=True, exist_ok=True)
        run(["start-stop-daemon", "--start", "--quiet", "--background", "--make-pidfile",
             "--pidfile", self._supervisor_pidfile(name), "--exec", sys.executable, "--",
             "-m", "pws.services.sysvinit", name],
            problem=f"Site '{name}' did not start.", fix=f"see {self.log_file(name)}.")
        self._wait_for_socket(name)

    def _wait_for_socket(self, name: str, within: float = 60) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and not self.paths.socket(name).exists():
            time.sleep(0.1)

    def stop(self, name: str) -> None:
        """Stop the supervisor (it stops gunicorn gracefully) and wait until both are gone."""
        subprocess.run(["start-stop-daemon", "--stop", "--quiet", "--retry", "TERM/30/KILL/5",
                        "--pidfile", self._supervisor_pidfile(name), "--remove-pidfile"],
                       capture_output=True)
        deadline = time.monotonic() + 30
        while self._pid(self._gunicorn_pidfile(name)) and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    def reload(self, name: str, boot_timeout: float = 60) -> None:
        master = self._pid(self._gunicorn_pidfile(name))
        if not master:
            self.start(name)
            return
        rolling_reload(master, self.ready_dir(name), boot_timeout)

    def reload_config(self, name: str) -> None:
        master = self._pid(self._gunicorn_pidfile(name))
        if master:
            os.kill(master, signal.SIGHUP)
        else:
            self.start(name)

    def stop_until_request(self, name: str) -> None:
        """Without socket activation nothing would start it again: sysvinit sites never idle."""

    def kill_and_restart(self, name: str) -> None:
        master = self._pid(self._gunicorn_pidfile(name))
        if master:
            os.killpg(os.getpgid(master), signal.SIGKILL)  # the supervisor starts it again

    def uninstall(self, name: str) -> None:
        self.stop(name)  # workers a dead master orphaned go with the user (users.remove)

    def states(self, names: list[str]) -> dict[str, str]:
        return {name: self.status(name).state for name in names}

    def status(self, name: str) -> ServiceStatus:
        supervisor = self._pid(self._supervisor_pidfile(name))
        master = self._pid(self._gunicorn_pidfile(name))
        state = "active (running)" if master else "activating" if supervisor else "inactive"
        return ServiceStatus(state=state, pid=master, listening=self.paths.socket(name).exists(),
                             last_errors=_tail(self.log_file(name), 10))

    def logs(self, name: str, lines: int, follow: bool) -> list[str]:
        return ["tail", "-n", str(lines)] + (["-F"] if follow else []) + [str(self.log_file(name))]


def _tail(path: Path, lines: int) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


# --- the supervisor process (python3 -m pws.services.sysvinit NAME)
def supervise(name: str) -> int:
    manager = SysVInit()
    paths = manager.paths
    stopping = False
    child: subprocess.Popen | None = None

    def forward(signum, frame):
        nonlocal stopping
        stopping = True
        if child and child.poll() is None:
            child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    crashes: list[float] = []
    ready = manager.ready_dir(name)
    ready.mkdir(parents=True, exist_ok=True)
    os.chown(ready, *_ids(f"pws-{name}"))
    while not stopping:
        with open(manager.log_file(name), "ab") as log:
            child = subprocess.Popen(
                [str(paths.venv_dir(name) / "bin" / "gunicorn"), "--config",
                 str(paths.gunicorn_conf(name)), "--pid", str(manager._gunicorn_pidfile(name)),
                 "--user", f"pws-{name}", "--group", f"pws-{name}"],
                stdout=log, stderr=log, cwd=paths.app_dir(name), start_new_session=True,
                env={**_site_env(paths, name), "RUNTIME_DIRECTORY": str(ready)})
            _hand_socket_to_nginx(paths.socket(name), child)
            code = child.wait()
        _kill_group(child.pid)  # workers orphaned by a dead master, as systemd's cgroup would
        if stopping:
            break
        crashes = [t for t in crashes if time.monotonic() - t < INTERVAL] + [time.monotonic()]
        _log(manager.log_file(name), f"pws: gunicorn exited ({code}); restart {len(crashes)}")
        if len(crashes) >= BURST:
            _log(manager.log_file(name), f"pws: {BURST} crashes in {INTERVAL:.0f}s: giving up")
            subprocess.run(["/usr/bin/pws", "alerts", "record", name, "--reason",
                            f"crashed {BURST} times in {INTERVAL:.0f}s"], capture_output=True)
            return 1
        time.sleep(RESTART_DELAY)
    return 0


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _site_env(paths: Paths, name: str) -> dict[str, str]:
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(paths.site_home(name))}
    env_file = paths.secrets_dir(name) / "env"
    if env_file.exists():
        env.update(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    return env


def _hand_socket_to_nginx(sock: Path, child: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if sock.exists():
            os.chown(sock, 0, _ids("www-data")[1])
            os.chmod(sock, 0o660)
            return
        time.sleep(0.05)


def _ids(user: str) -> tuple[int, int]:
    import pwd
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def _log(path: Path, line: str) -> None:
    with open(path, "a") as log:
        log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")


if __name__ == "__main__":
    sys.exit(supervise(sys.argv[1]))
