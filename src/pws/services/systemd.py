"""systemd: socket-activated template instances pws-site@NAME.{socket,service}."""
from __future__ import annotations

import subprocess

from ..runner import run
from . import ServiceStatus


def units(name: str) -> tuple[str, str]:
    return f"pws-site@{name}.socket", f"pws-site@{name}.service"


class Systemd:
    def _ctl(self, *args: str, problem: str = "") -> None:
        run(["systemctl", *args], problem=problem or f"systemctl {' '.join(args)} failed.",
            fix="see `pws status NAME` and `pws logs NAME`.")

    def install(self, name: str) -> None:
        socket, _ = units(name)
        self._ctl("enable", "--now", socket)

    def start(self, name: str) -> None:
        socket, service = units(name)
        self._ctl("start", socket, service, problem=f"Site '{name}' did not start.")

    def stop(self, name: str) -> None:
        self._ctl("stop", *units(name))

    def restart(self, name: str) -> None:
        socket, service = units(name)
        self._ctl("start", socket)
        self._ctl("restart", service, problem=f"Site '{name}' did not restart.")

    def reload(self, name: str) -> None:
        _, service = units(name)
        self._ctl("reload-or-restart", service, problem=f"Site '{name}' did not reload.")

    def uninstall(self, name: str) -> None:
        socket, service = units(name)
        subprocess.run(["systemctl", "disable", "--now", socket, service], capture_output=True)
        subprocess.run(["systemctl", "reset-failed", socket, service], capture_output=True)

    def status(self, name: str) -> ServiceStatus:
        socket, service = units(name)
        props = _show(service, "ActiveState", "SubState", "MainPID", "MemoryCurrent", "NRestarts")
        listening = _show(socket, "ActiveState")["ActiveState"] == "active"
        return ServiceStatus(
            state=f"{props['ActiveState']} ({props['SubState']})",
            pid=_int(props["MainPID"]) or None,
            memory_bytes=_int(props["MemoryCurrent"]),
            restarts=_int(props["NRestarts"]),
            listening=listening,
            last_errors=self._last_errors(service),
        )

    def _last_errors(self, service: str) -> list[str]:
        proc = subprocess.run(["journalctl", "-u", service, "-p", "warning", "-n", "10", "-o", "cat",
                               "--no-pager", "-q"], capture_output=True, text=True)
        return proc.stdout.splitlines()

    def logs(self, name: str, lines: int, follow: bool) -> list[str]:
        _, service = units(name)
        return ["journalctl", "-u", service, "-n", str(lines), "--no-pager"] + (["-f"] if follow else [])


def _show(unit: str, *props: str) -> dict[str, str]:
    proc = subprocess.run(["systemctl", "show", unit, *(f"--property={p}" for p in props)],
                          capture_output=True, text=True)
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    return {p: values.get(p, "") for p in props}


def _int(value: str) -> int | None:
    return int(value) if value.isdigit() else None
