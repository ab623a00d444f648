"""Systems without systemd: gunicorn daemonised by start-stop-daemon, one pid file per site.

The master binds the site's unix socket itself (mode 0660, group www-data via umask and the
socket's group), and drops to the site user for its workers.
"""
from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from ..paths import Paths
from ..runner import run
from . import ServiceStatus


class SysVInit:
    def __init__(self, paths: Paths | None = None):
        self.paths = paths or Paths.from_env()

    def _pidfile(self, name: str) -> Path:
        return self.paths.root / "run" / "pws" / f"{name}.pid"

    def _pid(self, name: str) -> int | None:
        try:
            pid = int(self._pidfile(name).read_text().strip())
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError):
            return None

    def install(self, name: str) -> None:
        self.start(name)

    def start(self, name: str) -> None:
        if self._pid(name):
            return
        self._pidfile(name).parent.mkdir(parents=True, exist_ok=True)
        gunicorn = self.paths.venv_dir(name) / "bin" / "gunicorn"
        run(["start-stop-daemon", "--start", "--quiet", "--pidfile", self._pidfile(name),
             "--exec", gunicorn, "--", "--config", self.paths.gunicorn_conf(name), "--daemon",
             "--pid", self._pidfile(name), "--user", f"pws-{name}", "--group", "www-data",
             "--umask", "0007", "--error-logfile", f"/var/log/pws-{name}.log"],
            problem=f"Site '{name}' did not start.", fix=f"see /var/log/pws-{name}.log.")

    def stop(self, name: str) -> None:
        subprocess.run(["start-stop-daemon", "--stop", "--quiet", "--retry", "TERM/30/KILL/5",
                        "--pidfile", self._pidfile(name), "--remove-pidfile"], capture_output=True)

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    def reload(self, name: str) -> None:
        pid = self._pid(name)
        if pid:
            os.kill(pid, signal.SIGHUP)
        else:
            self.start(name)

    def reload_config(self, name: str) -> None:
        self.reload(name)

    def stop_until_request(self, name: str) -> None:
        """Without socket activation nothing would start it again: sysvinit sites never idle."""

    def started_at(self, name: str) -> float:
        pidfile = self._pidfile(name)
        return pidfile.stat().st_mtime if pidfile.exists() else 0.0

    def kill_and_restart(self, name: str) -> None:
        pid = self._pid(name)
        if pid:
            os.killpg(os.getpgid(pid), signal.SIGKILL)
        self._pidfile(name).unlink(missing_ok=True)
        self.start(name)

    def uninstall(self, name: str) -> None:
        self.stop(name)

    def status(self, name: str) -> ServiceStatus:
        pid = self._pid(name)
        return ServiceStatus(state="active (running)" if pid else "inactive", pid=pid,
                             listening=self.paths.socket(name).exists())

    def logs(self, name: str, lines: int, follow: bool) -> list[str]:
        return ["tail", "-n", str(lines)] + (["-f"] if follow else []) + [f"/var/log/pws-{name}.log"]
