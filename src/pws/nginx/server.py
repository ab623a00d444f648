"""nginx as the WebServer: vhost per site in sites-available, enabled by a link in sites-enabled.

Every change is validated with `nginx -t` and rolled back if nginx rejects it, so a bad
change to one site never stops nginx from (re)loading the others.
"""
from __future__ import annotations

import os
import string
import time
from pathlib import Path

from ..errors import CommandFailed, NginxConfigError
from .. import procs
from ..paths import Paths
from ..runner import run, succeeds
from ..site import Site
from .inspect import NginxFacts, read_facts
from .state import NginxState


class NginxServer:
    def __init__(self, paths: Paths, nginx_cmd: tuple[str, ...] = ("nginx",),
                 use_systemd: bool | None = None, listen: tuple[str, ...] = ("80", "[::]:80"),
                 pid_file: Path | None = None):
        self.paths = paths
        self.pid_file = pid_file or paths.root / "run" / "nginx.pid"
        self.listen = listen
        self.state = NginxState(paths)
        self.nginx_cmd = nginx_cmd
        if use_systemd is None:
            use_systemd = Path("/run/systemd/system").is_dir() and nginx_cmd == ("nginx",)
        self.use_systemd = use_systemd

    # --- rendering
    def render(self, site: Site) -> str:
        template = string.Template((self.paths.templates / "nginx-site.conf").read_text())
        return template.substitute(
            name=site.name,
            listen=";\n    listen ".join(self.listen),
            access_log=self.paths.nginx_log(site.name, "access"),
            error_log=self.paths.nginx_log(site.name, "error"),
            socket=self.paths.socket(site.name),
            errors_dir=self.paths.errors,
            server_names=" ".join(site.domains),
            static_locations=self._static_locations(site),
            read_timeout=site.timeout + 5,
        )

    def _static_locations(self, site: Site) -> str:
        blocks = []
        targets = {url: static_target(self.paths, site.name, url) for url in site.static}
        targets.update({url: self.paths.site_home(site.name) / d for url, d in site.aliases.items()})
        for url, target in sorted(targets.items()):
            blocks.append(
                f"    location {url} {{\n"
                f"        alias {target}/;\n"
                f"        access_log off;\n"
                f"        expires 1h;\n"
                f"        add_header Cache-Control \"public\";\n"
                f"        try_files $uri =404;\n"
                f"    }}\n")
        return "\n" + "\n".join(blocks) if blocks else ""

    # --- changes, each validated and rolled back on failure
    def install(self, site: Site) -> None:
        """Write and enable the vhost, validate, reload; nothing at all if it is unchanged."""
        vhost, link = self.paths.vhost(site.name), self.paths.vhost_link(site.name)
        before = (_read(vhost), _link_target(link))
        text, target = self.render(site), f"../sites-available/{vhost.name}"
        if before == (text, target):
            return
        self._check_admin_config()
        self.state.write_file(vhost, text)
        self.state.symlink(link, target)
        try:
            self.validate()
        except NginxConfigError:
            self._restore(vhost, link, before)
            raise
        self.reload()

    def _restore(self, vhost: Path, link: Path, before: tuple[str | None, str | None]) -> None:
        old_text, old_target = before
        if old_text is None:
            self.state.remove(vhost)
        else:
            self.state.write_file(vhost, old_text)
        if old_target is None:
            self.state.remove(link)
        else:
            self.state.symlink(link, old_target)

    def remove(self, name: str) -> None:
        self.state.remove(self.paths.vhost_link(name))
        self.state.remove(self.paths.vhost(name))
        self.reload_if_valid()

    def disable(self, name: str) -> None:
        self.state.remove(self.paths.vhost_link(name))

    def enable(self, name: str) -> bool:
        """Link a kept vhost into sites-enabled; True if it was not enabled."""
        vhost, link = self.paths.vhost(name), self.paths.vhost_link(name)
        target = f"../sites-available/{vhost.name}"
        if not vhost.exists() or _link_target(link) == target:
            return False
        self.state.symlink(link, target)
        return True

    def is_enabled(self, name: str) -> bool:
        return self.paths.vhost_link(name).is_symlink()

    # --- reading
    def facts(self) -> NginxFacts:
        return read_facts(self.paths.nginx / "nginx.conf", ignore=self._is_pws_file)

    def _is_pws_file(self, path: Path) -> bool:
        return path.name.startswith("pws-") and path.parent.name in ("sites-enabled",
                                                                     "sites-available")

    def taken_domains(self, also_pws_sites: set[str] = frozenset()) -> dict[str, str]:
        """Server names the admin's config serves, and those of the named pws sites' vhosts."""
        kept = {self.paths.vhost(n) for n in also_pws_sites} | \
            {self.paths.vhost_link(n) for n in also_pws_sites}
        return read_facts(self.paths.nginx / "nginx.conf",
                          ignore=lambda path: self._is_pws_file(path) and path not in kept
                          ).server_names

    # --- nginx itself
    def validate(self) -> None:
        try:
            run([*self.nginx_cmd, "-t", "-q"], problem="nginx rejected the configuration:")
        except CommandFailed as exc:
            raise NginxConfigError(exc.problem, "the change was rolled back; other sites are "
                                   "unaffected. Check the site's domains and static paths.") from exc

    def _check_admin_config(self) -> None:
        """nginx must accept the configuration before pws changes it, or the fault is not ours."""
        try:
            run([*self.nginx_cmd, "-t", "-q"], problem="Your nginx configuration fails `nginx -t` "
                "already, so pws changes nothing:")
        except CommandFailed as exc:
            raise NginxConfigError(exc.problem, "fix the file named above, then run the "
                                   "command again.") from exc

    def reload_if_valid(self) -> None:
        if succeeds([*self.nginx_cmd, "-t", "-q"]):
            self.reload()

    def reload(self) -> None:
        """Reload, and return once nginx runs the new configuration (new workers are up)."""
        master = _read_pid(self.pid_file)
        old_workers = _children(master) if master else set()
        self._signal_reload()
        if master and not _wait_for_new_workers(master, old_workers):
            raise CommandFailed("nginx did not start workers with the new configuration in 10 s.",
                                "see /var/log/nginx/error.log.")

    def _signal_reload(self) -> None:
        if self.use_systemd:
            run(["systemctl", "reload-or-restart", "nginx"], problem="nginx did not reload.",
                fix="see `systemctl status nginx`.")
        else:
            run([*self.nginx_cmd, "-s", "reload"], problem="nginx did not reload.",
                fix="is nginx running? see /var/log/nginx/error.log.")


def _read_pid(path: Path) -> int | None:
    try:
        pid = int(path.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if procs.alive(pid) else None


def _children(pid: int) -> set[int]:
    """The worker processes of an nginx master (not its cache manager or loader)."""
    return {kid for kid in procs.children(pid) if b"worker process" in procs.cmdline(kid)}


def _accepting(pid: int) -> bool:
    """An old worker accepts connections until it retitles itself 'shutting down' or exits."""
    line = procs.cmdline(pid)
    return bool(line) and b"shutting down" not in line


def _wait_for_new_workers(master: int, old: set[int], within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if _children(master) - old and not any(_accepting(pid) for pid in old):
            return True
        time.sleep(0.02)
    return False


def static_target(paths: Paths, name: str, url: str) -> Path:
    """Where nginx serves a static URL prefix from: a dir under the site's static root."""
    slug = url.strip("/").replace("/", "_") or "root"
    return paths.static_root(name) / slug


def _read(path: Path) -> str | None:
    return path.read_text() if path.is_file() and not path.is_symlink() else None


def _link_target(path: Path) -> str | None:
    return os.readlink(path) if path.is_symlink() else None
