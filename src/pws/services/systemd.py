"""systemd: socket-activated template instances pws-site@NAME.{socket,service}."""
from __future__ import annotations

import contextlib
import re
import subprocess
import time

from pathlib import Path

from .. import fsutil, procs
from ..errors import CommandFailed
from ..runner import run
from ..runas import ids
from . import ServiceStatus
from .rolling import rolling_reload, switch_master

RUNTIME = Path("/run/pws-site")  # RuntimeDirectory=pws-site/%i of the service
# `systemctl enable` reloads every unit file (a few tenths of a second): once per site is enough.
WANTS = Path("/etc/systemd/system/sockets.target.wants")
DROPINS = Path("/etc/systemd/system")  # where the instance's drop-ins go


def units(name: str) -> tuple[str, str]:
    return f"pws-site@{name}.socket", f"pws-site@{name}.service"


def _forget_failures(*unit_names: str) -> None:
    """An admin's start or restart begins a new count: a site that crash-looped into its
    start limit (StartLimitBurst) would otherwise refuse the start the admin asks for."""
    subprocess.run(["systemctl", "reset-failed", *unit_names], capture_output=True)


# A restart stops gunicorn gracefully first (in-flight requests: up to graceful_timeout, 30 s).
RESTART_BEGINS_WITHIN = 60


class Systemd:
    def _ctl(self, *args: str, problem: str = "") -> None:
        run(["systemctl", *args], problem=problem or f"systemctl {' '.join(args)} failed.",
            fix="see `pws status NAME` and `pws logs NAME`.")

    def install(self, name: str) -> None:
        socket, _ = units(name)
        if (WANTS / socket).is_symlink():
            self._ctl("start", socket)
        else:
            self._ctl("enable", "--now", socket)

    def start(self, name: str) -> None:
        socket, service = units(name)
        _forget_failures(socket, service)
        self._ctl("start", socket, service, problem=f"Site '{name}' did not start.")

    def stop(self, name: str) -> None:
        self._ctl("stop", *units(name))

    def restart(self, name: str) -> None:
        """Returns once the new gunicorn has been started (not once it is ready): systemd 257
        keeps a restart's job open across the automatic restarts of an app that dies at start,
        until its start limit, so waiting on the job would tell that death a minute late.
        Callers wait for the site themselves (boot.start_and_wait watches for the death)."""
        socket, service = units(name)
        _forget_failures(socket, service)
        self._ctl("start", socket)
        old = _show(service, "InvocationID")["InvocationID"]
        self._ctl("restart", "--no-block", service, problem=f"Site '{name}' did not restart.")
        deadline = time.monotonic() + RESTART_BEGINS_WITHIN
        while _show(service, "InvocationID")["InvocationID"] in ("", old):
            if time.monotonic() > deadline:
                raise CommandFailed(f"Site '{name}' did not begin to restart within "
                                    f"{RESTART_BEGINS_WITHIN} s.",
                                    f"see `pws status {name}` and `pws logs {name}`.")
            time.sleep(0.05)

    def reload(self, name: str, boot_timeout: float = 60) -> None:
        """Rolling worker replacement; a site that is not running is simply started."""
        socket, service = units(name)
        pid = _int(_show(service, "MainPID")["MainPID"]) or 0
        if not pid:
            self._ctl("start", socket)
            return
        rolling_reload(pid, RUNTIME / name, boot_timeout)

    def switch(self, name: str, boot_timeout: float = 60) -> None:
        """USR2: gunicorn forks a new master that execs the new release's venv and tells
        systemd it is the main process (the generated config's when_ready); once its workers
        are ready the old master is stopped gracefully. Not running: the socket starts the new
        release on the next request."""
        _, service = units(name)
        old = _int(_show(service, "MainPID")["MainPID"]) or 0
        if not old:
            return

        def new_master() -> int:
            pid = _int(_show(service, "MainPID")["MainPID"]) or 0
            return pid if pid != old else 0

        switch_master(old, new_master, RUNTIME / name, boot_timeout)

    def reload_config(self, name: str) -> None:
        """gunicorn's HUP: re-reads its config (worker count, timeout); stalls for the import."""
        _, service = units(name)
        self._ctl("reload-or-restart", service, problem=f"Site '{name}' did not reload.")

    def stop_until_request(self, name: str) -> None:
        """Scale to zero: stop gunicorn, keep the socket, which starts it on the next request."""
        _, service = units(name)
        self._ctl("stop", service)

    def kill_and_restart(self, name: str) -> None:
        """For a hung site: SIGKILL every process (a stopped one cannot take SIGTERM), restart."""
        socket, service = units(name)
        subprocess.run(["systemctl", "kill", "--signal=SIGKILL", service], capture_output=True)
        self._ctl("restart", service, problem=f"Site '{name}' did not restart.")

    def uninstall(self, name: str) -> None:
        socket, service = units(name)
        subprocess.run(["systemctl", "disable", "--now", socket, service], capture_output=True)
        subprocess.run(["systemctl", "reset-failed", socket, service], capture_output=True)
        self.set_limits(name, {})

    def set_limits(self, name: str, limits: dict[str, str]) -> bool:
        """A drop-in of the instance, pws-site@NAME.service.d/50-pws-limits.conf; True if it
        changed (then systemd has re-read it; a started service gets it on its next start)."""
        folder = DROPINS / f"{units(name)[1]}.d"
        path = folder / "50-pws-limits.conf"
        text = ("# From the owner's grant (pws grant); rewritten by pws.\n[Service]\n"
                + "".join(f"{k}={v}\n" for k, v in sorted(limits.items()))) if limits else ""
        old = path.read_text() if path.exists() else ""
        if old == text:
            return False
        if text:
            fsutil.write_atomic(path, text)
        else:
            path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                folder.rmdir()
        self._ctl("daemon-reload")
        return True

    def processes(self, name: str) -> set[int]:
        """Whatever runs in the service's cgroup, or in the cgroup of one of the site's
        processes or timers (pws process, pws timer): none of them is a stray."""
        ours = re.compile(rf"/(pws-site@{re.escape(name)}\.service|pws-proc-{re.escape(name)}\."
                          rf"[a-z0-9_]+@\d+\.service|pws-timer-{re.escape(name)}\.[a-z0-9_]+"
                          rf"\.service)\n\Z")
        uid = _site_uid(name)
        return {pid for pid in procs.owned_by(uid) if ours.search(procs.cgroup(pid))}

    def status(self, name: str) -> ServiceStatus:
        socket, service = units(name)
        props = _show(service, "ActiveState", "SubState", "MainPID", "MemoryCurrent", "NRestarts",
                      "Result")
        listening = _show(socket, "ActiveState")["ActiveState"] == "active"
        failed = props["ActiveState"] == "failed"
        detail = props["Result"] if failed else props["SubState"]
        return ServiceStatus(
            state=f"{props['ActiveState']} ({detail})",
            pid=_int(props["MainPID"]) or None,
            memory_bytes=_int(props["MemoryCurrent"]),
            restarts=_int(props["NRestarts"]),
            listening=listening,
            last_errors=self._last_errors(service, failed),
        )

    def states(self, names: list[str]) -> dict[str, str]:
        """'active (running)' etc. for many sites in one systemctl call (pws list)."""
        if not names:
            return {}
        proc = subprocess.run(["systemctl", "show", "--property=Id,ActiveState,SubState",
                               *(units(n)[1] for n in names)], capture_output=True, text=True)
        states = {}
        for block in proc.stdout.strip().split("\n\n"):
            props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
            name = props.get("Id", "").removeprefix("pws-site@").removesuffix(".service")
            states[name] = f"{props.get('ActiveState')} ({props.get('SubState')})"
        return states

    def _last_errors(self, service: str, failed: bool) -> list[str]:
        """Warnings; for a failed site the app's own exception and the traceback around it."""
        if not failed:
            return _journal(service, 10, "-p", "warning")
        lines = _journal(service, 300)
        app_errors = [i for i, line in enumerate(lines) if _EXCEPTION.match(line.strip())
                      and "gunicorn.errors" not in line]
        if not app_errors:
            return lines[-15:]
        last = app_errors[-1]
        return lines[max(0, last - 6):last + 1] + [line for line in lines[-3:] if "systemd" in line
                                                  or service in line]

    def log_mark(self, name: str) -> str:
        """Where the site's log ends now (a journal cursor), for start_failure."""
        proc = subprocess.run(["journalctl", "-n", "1", "-o", "cat", "--show-cursor", "-q", "--no-pager"],
                              capture_output=True, text=True)
        return proc.stdout.strip().rpartition("cursor: ")[2]

    def start_failure(self, name: str, mark: str) -> list[str] | None:
        """None while the app starts or runs; once its gunicorn died after mark (e.g. the app
        raised at import: gunicorn halts, systemd restarts it), the app's log since mark."""
        _, service = units(name)
        lines = _journal(service, 400, *([f"--after-cursor={mark}"] if mark else []))
        if not any(_DIED.search(line) for line in lines):
            return None
        return [line for line in lines if not line.startswith(service)] or lines

    def logs(self, name: str, lines: int, follow: bool) -> list[str]:
        _, service = units(name)
        return ["journalctl", "-u", service, "-n", str(lines), "--no-pager"] + (["-f"] if follow else [])


# systemd's words for a main process that ended (the journal's lines of the unit itself).
_DIED = re.compile(r"^pws-site@[\w-]+\.service: (Main process exited|Failed with result|"
                   r"Start request repeated)")
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b(:.*)?$")


def _journal(service: str, lines: int, *extra: str) -> list[str]:
    proc = subprocess.run(["journalctl", "-u", service, "-n", str(lines), "-o", "cat", "--no-pager",
                           "-q", *extra], capture_output=True, text=True)
    return proc.stdout.splitlines()


def _show(unit: str, *props: str) -> dict[str, str]:
    proc = subprocess.run(["systemctl", "show", unit, *(f"--property={p}" for p in props)],
                          capture_output=True, text=True)
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return {p: values.get(p, "") for p in props}


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None


def _site_uid(name: str) -> int:
    try:
        return ids(f"pws-{name}")[0]
    except KeyError:
        return -1
