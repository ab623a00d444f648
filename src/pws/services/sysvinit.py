"""Systems booted without systemd: a supervisor per site, daemonised by start-stop-daemon,
runs the site's gunicorn in the foreground and restarts it when it dies (1 s later, like
Restart=always), giving up after 5 crashes in 60 s (like StartLimitBurst) with an alert.

The supervisor (root) does what systemd does for pws-site@.socket and .service: it binds the
site's socket (root:www-data 0660, so only nginx connects; connections queue there while
gunicorn restarts), opens the log (root:adm 0640), and starts gunicorn as the site user with
the socket passed as an fd. No process of the site, the gunicorn master included, runs as root,
and the site's env reaches only the site's program.
"""
from __future__ import annotations

import contextlib
import grp
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from .. import fsutil, runas, safefs
from ..spawn import spawn_with_socket
from .. import procs
from ..errors import CommandFailed
from ..paths import Paths
from ..runner import run
from . import ServiceStatus
from .rolling import rolling_reload

RESTART_DELAY = 1.0
BURST, INTERVAL = 5, 60.0
BACKLOG = 2048  # as pws-site@.socket


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
        safefs.make_dir(self._run_dir(), 0o755, 0, 0)
        os.close(open_log(self.log_file(name)))
        run(["start-stop-daemon", "--start", "--quiet", "--background", "--make-pidfile",
             "--pidfile", self._supervisor_pidfile(name), "--exec", sys.executable, "--",
             "-I", "-m", "pws.services.sysvinit", name],
            problem=f"Site '{name}' did not start.", fix=f"see {self.log_file(name)}.")
        self._wait_for_master(name)

    def _wait_for_master(self, name: str, within: float = 60) -> None:
        """Until the supervisor has started gunicorn (its socket is bound before that)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline and not self._pid(self._gunicorn_pidfile(name)):
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

    def switch(self, name: str, boot_timeout: float = 60) -> None:
        """The supervisor stops gunicorn (gracefully) and starts it from the new release at
        once, keeping the socket: requests wait in it for the app's boot, none is refused."""
        old = self._pid(self._gunicorn_pidfile(name))
        supervisor = self._pid(self._supervisor_pidfile(name))
        if not (old and supervisor):
            self.start(name)
            return
        os.kill(supervisor, signal.SIGHUP)
        deadline = time.monotonic() + boot_timeout
        while time.monotonic() < deadline:
            new = self._pid(self._gunicorn_pidfile(name))
            if new and new != old and _workers_ready(new, self.ready_dir(name)):
                return
            time.sleep(0.05)
        raise CommandFailed(f"Site '{name}' did not start its new release within "
                            f"{boot_timeout:.0f}s.", f"see {self.log_file(name)}.")

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

    def set_limits(self, name: str, limits: dict[str, str]) -> None:
        """Without systemd there are no cgroup limits: a granted user's site runs unlimited
        (pwsd, which grants serve, is systemd-only anyway)."""

    def uninstall(self, name: str) -> None:
        self.stop(name)  # workers a dead master orphaned go with the user (users.remove)

    def states(self, names: list[str]) -> dict[str, str]:
        return {name: self.status(name).state for name in names}

    def processes(self, name: str) -> set[int]:
        """The gunicorn master the supervisor started, and everything under it."""
        master = self._pid(self._gunicorn_pidfile(name))
        found = {master, *procs.descendants(master)} if master else set()
        for pidfile in self._run_dir().glob(f"{name}.proc.*.pid"):  # sysv_processes' supervisors
            supervisor = self._pid(pidfile)
            found |= procs.descendants(supervisor) if supervisor else set()
        return found

    def status(self, name: str) -> ServiceStatus:
        supervisor = self._pid(self._supervisor_pidfile(name))
        master = self._pid(self._gunicorn_pidfile(name))
        state = "active (running)" if master else "activating" if supervisor else "inactive"
        return ServiceStatus(state=state, pid=master, listening=self.paths.socket(name).exists(),
                             last_errors=_tail(self.log_file(name), 10))

    def log_mark(self, name: str) -> str:
        """The log's size now, for start_failure."""
        try:
            return str(self.log_file(name).stat().st_size)
        except OSError:
            return "0"

    def start_failure(self, name: str, mark: str) -> list[str] | None:
        """The log since mark once the supervisor saw gunicorn exit; else None."""
        try:
            with open(self.log_file(name), "rb") as log:
                log.seek(int(mark) if mark.isdigit() else 0)
                lines = log.read(1 << 20).decode(errors="replace").splitlines()
        except OSError:
            return None
        if not any(line.startswith("pws: gunicorn exited") for line in lines):
            return None
        return [line for line in lines if not line.startswith("pws: ")]

    def logs(self, name: str, lines: int, follow: bool) -> list[str]:
        return ["tail", "-n", str(lines)] + (["-F"] if follow else []) + [str(self.log_file(name))]


def _workers_ready(master: int, ready_dir: Path) -> bool:
    workers = procs.children(master)
    return bool(workers) and all((ready_dir / f"worker-{p}.ready").exists() for p in workers)


def _tail(path: Path, lines: int) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []


# --- the supervisor process (python3 -I -m pws.services.sysvinit NAME), root
def supervise(name: str) -> int:
    manager = SysVInit()
    supervisor = _Supervisor(manager, name)
    signal.signal(signal.SIGTERM, supervisor.stop)
    signal.signal(signal.SIGINT, supervisor.stop)
    signal.signal(signal.SIGHUP, supervisor.switch)
    try:
        return supervisor.run()
    finally:
        _remove_entry(manager.paths.socket(name))


class _Supervisor:
    """Owns the site's socket and log; runs gunicorn as the site user until told to stop."""

    def __init__(self, manager: SysVInit, name: str):
        self.manager, self.name = manager, name
        self.paths = manager.paths
        self.user = f"pws-{name}"
        self.stopping = False
        self.switching = False  # HUP: start gunicorn again from the new release, not a crash
        self.child = 0  # the gunicorn master's pid while it runs

    def stop(self, signum=None, frame=None) -> None:
        self.stopping = True
        if self.child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child, signal.SIGTERM)

    def switch(self, signum=None, frame=None) -> None:
        self.switching = True
        if self.child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.child, signal.SIGTERM)

    def run(self) -> int:
        log = self.manager.log_file(self.name)
        listener = _listen(self.paths.socket(self.name))
        ready = self.manager.ready_dir(self.name)
        safefs.make_dir(ready.parent, 0o755, 0, 0)
        safefs.make_dir(ready, 0o750, *runas.ids(self.user))
        crashes: list[float] = []
        while not self.stopping:
            code = self._run_gunicorn(listener.fileno(), ready)
            if self.stopping:
                break
            if self.switching:
                self.switching = False
                continue
            crashes = [t for t in crashes if time.monotonic() - t < INTERVAL] + [time.monotonic()]
            _log(log, f"pws: gunicorn exited ({code}); restart {len(crashes)}")
            if len(crashes) >= BURST:
                _log(log, f"pws: {BURST} crashes in {INTERVAL:.0f}s: giving up")
                subprocess.run(["/usr/bin/pws", "alerts", "record", self.name, "--reason",
                                f"crashed {BURST} times in {INTERVAL:.0f}s"], capture_output=True)
                return 1
            time.sleep(RESTART_DELAY)
        return 0

    def _run_gunicorn(self, listen_fd: int, ready: Path) -> int:
        pidfile = self.manager._gunicorn_pidfile(self.name)
        log_fd = open_log(self.manager.log_file(self.name))
        try:
            argv = [str(self.paths.venv_dir(self.name) / "bin" / "gunicorn"),
                    "--config", str(self.paths.gunicorn_conf(self.name))]
            env = {**_base_env(self.paths, self.name), "RUNTIME_DIRECTORY": str(ready)}
            self.child = spawn_with_socket(self.user, argv, env, self.paths.app_dir(self.name),
                                   log_fd, listen_fd)
        finally:
            os.close(log_fd)
        safefs.write_file(pidfile, f"{self.child}\n", 0o644, 0, 0)
        if self.stopping:  # a TERM that came while it was being started
            self.stop()
        _, status = os.waitpid(self.child, 0)
        _kill_group(self.child)  # workers orphaned by a dead master, as systemd's cgroup would
        self.child = 0
        _remove_entry(pidfile)
        return os.waitstatus_to_exitcode(status)


def _listen(path: Path) -> socket.socket:
    """The site's socket, bound by root: root:www-data 0660, so only nginx connects."""
    safefs.make_dir(path.parent, 0o755, 0, 0)
    _remove_entry(path)  # left by a supervisor that was killed
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o117)
    try:  # /run/pws is root's alone: the path cannot be swapped under us
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chown(path, 0, grp.getgrnam("www-data").gr_gid, follow_symlinks=False)
    sock.listen(BACKLOG)
    return sock


def _remove_entry(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError), safefs.opened_dir(path.parent) as fd:
        safefs.unlink_at(fd, path.name)


def open_log(path: Path) -> int:
    """An fd appending to the site's log, root:adm 0640 in a root:adm 0750 dir, opened
    without following links."""
    adm = fsutil.adm_gid()
    fsutil.make_log_dir(path.parent)
    with safefs.opened_dir(path.parent) as dirfd:
        fd = os.open(path.name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW |
                     os.O_CLOEXEC, 0o640, dir_fd=dirfd)
    os.fchown(fd, 0, adm)
    os.fchmod(fd, 0o640)
    return fd


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _base_env(paths: Paths, name: str) -> dict[str, str]:
    """What gunicorn starts with; the app's own variables are read by its config (as the site
    user), so root never reads or passes them."""
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(paths.site_home(name))}


def _log(path: Path, line: str) -> None:
    fd = open_log(path)
    try:
        os.write(fd, f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n".encode())
    finally:
        os.close(fd)


if __name__ == "__main__":
    sys.exit(supervise(sys.argv[1]))
