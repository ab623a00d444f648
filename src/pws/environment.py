"""What every command works with, built once per run (paths overridable for tests)."""
from __future__ import annotations

import os
from dataclasses import dataclass

from .deploy import Deployer
from .errors import NeedsRoot
from .nginx.server import NginxServer
from .paths import Paths
from .services import ServiceManager, detect
from .ui import UI


@dataclass
class Env:
    paths: Paths
    ui: UI
    web: NginxServer
    services: ServiceManager

    @classmethod
    def create(cls, assume_yes: bool = False, quiet: bool = False) -> "Env":
        paths = Paths.from_env()
        return cls(paths, UI(assume_yes, quiet), NginxServer(paths), detect())

    @property
    def deployer(self) -> Deployer:
        return Deployer(self.paths, self.ui, self.web, self.services)

    def require_root(self, what: str) -> None:
        if os.geteuid() != 0:
            raise NeedsRoot(f"{what} changes the system and needs root.", "run it with sudo.")
