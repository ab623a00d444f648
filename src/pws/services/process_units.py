"""systemd units of a site's processes and timers (docs/architecture.md, "Processes and
timers"): rendered from conf/templates/systemd-*, written to /etc/systemd/system, enabled per
instance. Under sysvinit there are none: `pws process` and `pws timer` say so."""
from __future__ import annotations

import string
import subprocess
from pathlib import Path

from .. import processes
from ..fsutil import remove_path, write_atomic
from ..paths import Paths
from ..runner import run


def available(paths: Paths) -> bool:
    return paths.root == Path("/") and Path("/run/systemd/system").is_dir()


class ProcessUnits:
    def __init__(self, paths: Paths):
        self.paths = paths
        self.dir = paths.systemd_units

    # --- files
    def _render(self, template: str, **values: str) -> str:
        text = (self.paths.templates / template).read_text()
        return string.Template(text).substitute(**values)

    def _files(self, site, procs: dict[str, dict]) -> dict[Path, str]:
        # An owner's grant limits each process and timer run as it limits the web service.
        limits = "".join(f"{key}={value}\n" for key, value in sorted(site.limits.items()))
        files = {}
        for item in procs:
            prefix = processes.unit_prefix(site.name, "proc", item)
            files[self.dir / f"{prefix}@.service"] = self._render(
                "systemd-process.service", name=site.name, kind="proc", item=item,
                command="process", limits=limits)
        for item, entry in site.timers.items():
            prefix = processes.unit_prefix(site.name, "timer", item)
            files[self.dir / f"{prefix}.service"] = self._render(
                "systemd-timer.service", name=site.name, kind="timer", item=item, command="timer",
                limits=limits)
            files[self.dir / f"{prefix}.timer"] = self._render(
                "systemd-timer.timer", name=site.name, item=item, on=entry["on"])
        return files

    def _existing(self, name: str) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted([*self.dir.glob(f"pws-proc-{name}.*"), *self.dir.glob(f"pws-timer-{name}.*")])

    # --- the running state
    def sync(self, site, procfile: dict[str, dict], *, restart: bool) -> list[str]:
        """Units for every process and timer of the site, the others removed; instances
        1..count enabled and started (restart: restarted, e.g. after a deploy). Returns the
        unit names that run."""
        procs = processes.effective(site, procfile)
        files = self._files(site, procs)
        stale = [p for p in self._existing(site.name) if p not in files]
        if not files and not stale:
            return []  # nothing to run, nothing left: no daemon-reload on every deploy
        self._stop([p.name for p in stale if not p.name.endswith("@.service")])
        self._stop(self._instances(stale))
        self._forget_alerts(stale)
        for path in stale:
            remove_path(path)
        for path, text in files.items():
            if not path.exists() or path.read_text() != text:
                write_atomic(path, text, 0o644)
        self._ctl("daemon-reload")
        running = []
        for item, entry in procs.items():
            prefix = processes.unit_prefix(site.name, "proc", item)
            wanted = [f"{prefix}@{i}.service" for i in range(1, entry["count"] + 1)]
            extra = [u for u in self._loaded(f"{prefix}@*.service") if u not in wanted]
            self._stop(extra)
            if wanted:
                subprocess.run(["systemctl", "reset-failed", *wanted], capture_output=True)
                self._ctl("enable", *wanted)
                self._ctl("restart" if restart else "start", *wanted)
            running += wanted
        timers = [f"{processes.unit_prefix(site.name, 'timer', t)}.timer" for t in site.timers]
        if timers:
            self._ctl("enable", "--now", *timers)
            self._ctl("restart", *timers)  # a changed OnCalendar= counts from now
        return running + timers

    def remove(self, name: str) -> None:
        """Stop, disable and delete every process and timer unit of the site."""
        existing = self._existing(name)
        if not existing:
            return
        self._stop([p.name for p in existing if not p.name.endswith("@.service")])
        self._stop(self._instances(existing))
        self._forget_alerts(existing)
        for path in existing:
            remove_path(path)
        subprocess.run(["systemctl", "daemon-reload"], capture_output=True)

    def _instances(self, templates: list[Path]) -> list[str]:
        found = []
        for path in templates:
            if path.name.endswith("@.service"):
                found += self._loaded(path.name.replace("@.service", "@*.service"))
        return found

    @staticmethod
    def _forget_alerts(paths: list[Path]) -> None:
        """The pws-alert@PREFIX units of removed processes and timers: systemd 257 starts
        OnFailure= at every failure of a restart loop, so the alert unit can itself end
        failed (start limit), and would stay listed after its process is gone."""
        prefixes = {p.name.split("@", 1)[0] if "@" in p.name else p.name.rsplit(".", 1)[0]
                    for p in paths}
        alerts = [f"pws-alert@{prefix}.service" for prefix in sorted(prefixes)]
        if alerts:
            subprocess.run(["systemctl", "reset-failed", *alerts], capture_output=True)

    @staticmethod
    def _loaded(pattern: str) -> list[str]:
        """Units matching pattern that systemd knows of (loaded or enabled)."""
        proc = subprocess.run(["systemctl", "list-units", "--all", "--plain", "--no-legend",
                               pattern], capture_output=True, text=True)
        units = {line.split()[0] for line in proc.stdout.splitlines() if line.split()}
        files = subprocess.run(["systemctl", "list-unit-files", "--plain", "--no-legend", pattern],
                               capture_output=True, text=True)
        units |= {line.split()[0] for line in files.stdout.splitlines()
                  if line.split() and "@." not in line.split()[0]}
        return sorted(units)

    @staticmethod
    def _stop(units: list[str]) -> None:
        if units:
            subprocess.run(["systemctl", "disable", "--now", *units], capture_output=True)
            subprocess.run(["systemctl", "reset-failed", *units], capture_output=True)

    @staticmethod
    def _ctl(*args: str) -> None:
        run(["systemctl", *args], problem=f"systemctl {' '.join(args)} failed.",
            fix="see `pws status NAME` and `pws alerts`.")

    # --- what status and logs show
    def states(self, name: str) -> list[tuple[str, str]]:
        """(unit, 'active (running)' ...) of the site's process instances and timers."""
        proc = subprocess.run(["systemctl", "list-units", "--all", "--plain", "--no-legend",
                               f"pws-proc-{name}.*", f"pws-timer-{name}.*"],
                              capture_output=True, text=True)
        rows = []
        for line in proc.stdout.splitlines():
            parts = line.split()
            if len(parts) >= 4:
                rows.append((parts[0], f"{parts[2]} ({parts[3]})"))
        return rows

    def log_command(self, name: str, item: str, lines: int, follow: bool) -> list[str]:
        units = [f"{processes.unit_prefix(name, 'proc', item)}@*.service",
                 f"{processes.unit_prefix(name, 'timer', item)}.service"]
        return ["journalctl", *(a for u in units for a in ("-u", u)), "-n", str(lines),
                "--no-pager"] + (["-f"] if follow else [])


def manager(paths: Paths):
    """systemd's units, or (no systemd) sysv_processes' supervisors and cron lines."""
    if available(paths) or paths.root != Path("/"):
        return ProcessUnits(paths)
    from .sysv_processes import SysvProcesses
    return SysvProcesses(paths)
