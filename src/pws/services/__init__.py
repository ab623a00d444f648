"""Service managers: how a site's gunicorn is started, stopped and supervised."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass
class ServiceStatus:
    state: str  # active, inactive, failed, activating, ...
    pid: int | None = None
    memory_bytes: int | None = None
    restarts: int | None = None
    listening: bool = False
    last_errors: list[str] = field(default_factory=list)


class ServiceManager(Protocol):
    def install(self, name: str) -> None:
        """Enable the site's service so it starts at boot and on the first request."""

    def start(self, name: str) -> None: ...

    def stop(self, name: str) -> None: ...

    def restart(self, name: str) -> None: ...

    def reload(self, name: str) -> None:
        """Load new code without dropping or stalling a request (rolling worker replacement)."""

    def switch(self, name: str) -> None:
        """Serve the release `current` names now: a new master for it (new venv, config and
        environment), the old one retired once the new workers are up; no request lost."""

    def reload_config(self, name: str) -> None:
        """Make gunicorn re-read its config (HUP); requests may wait for the app's import."""

    def stop_until_request(self, name: str) -> None:
        """Scale to zero: stop the app, keep listening so the next request starts it."""

    def kill_and_restart(self, name: str) -> None:
        """For a hung site: kill every process of it, then start it again."""

    def uninstall(self, name: str) -> None:
        """Stop and disable; leave nothing of the site's service behind."""

    def set_limits(self, name: str, limits: dict[str, str]) -> None:
        """The owner's resource limits (MemoryMax, CPUQuota, TasksMax) on the site's service;
        none: none of pws's."""

    def status(self, name: str) -> ServiceStatus: ...

    def processes(self, name: str) -> set[int]:
        """The pids of the site's running service (its app), to tell them from strays."""

    def states(self, names: list[str]) -> dict[str, str]:
        """The state of many sites at once, cheaply."""

    def log_mark(self, name: str) -> str:
        """Where the app's log ends now, for start_failure."""

    def start_failure(self, name: str, mark: str) -> list[str] | None:
        """None while the app starts or runs; its log since mark once gunicorn died after
        mark (e.g. the app raised at import): a start that failed, told in seconds."""

    def logs(self, name: str, lines: int, follow: bool) -> list[str]:
        """The command that shows the app's log."""


def detect() -> ServiceManager:
    if Path("/run/systemd/system").is_dir():
        from .systemd import Systemd
        return Systemd()
    from .sysvinit import SysVInit
    return SysVInit()
