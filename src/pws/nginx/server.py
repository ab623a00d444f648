"""nginx as the WebServer: vhost per site in sites-available, enabled by a link in sites-enabled.

Every change is validated with `nginx -t` and rolled back if nginx rejects it, so a bad
change to one site never stops nginx from (re)loading the others. While pws has sites and the
admin has no default server, pws's own (sites-available/pws-000-default.conf, a name no site can
take: site names start with a letter) answers unknown names with nothing.
"""
from __future__ import annotations

import grp
import os
import pwd
import socket
import stat
import string
import time
from pathlib import Path

from ..errors import CommandFailed, NginxConfigError
from .. import procs, safefs
from ..paths import Paths
from ..runner import run, succeeds
from ..site import Site
from ..tls.state import TlsPaths, VhostFacts, vhost_facts
from .inspect import NginxFacts, read_facts
from .state import NginxState
from . import websocket


DEFAULT_NAME = "pws-000-default.conf"
TLS_SNIPPET = "snippets/pws-tls.conf"  # under /etc/nginx; included by every pws HTTPS vhost
LOG_OWNER, LOG_GROUP, LOG_MODE = "www-data", "adm", 0o640  # as Debian's logrotate creates them


class NginxServer:
    def __init__(self, paths: Paths, nginx_cmd: tuple[str, ...] = ("nginx",),
                 use_systemd: bool | None = None, listen: tuple[str, ...] | None = None,
                 pid_file: Path | None = None):
        self.paths = paths
        self.pid_file = pid_file or paths.root / "run" / "nginx.pid"
        self.listen = listen or (("80", "[::]:80") if self.kernel_has_ipv6() else ("80",))
        self.state = NginxState(paths)
        self.nginx_cmd = nginx_cmd
        if use_systemd is None:
            use_systemd = Path("/run/systemd/system").is_dir() and nginx_cmd == ("nginx",)
        self.use_systemd = use_systemd

    @staticmethod
    def kernel_has_ipv6(if_inet6: Path = Path("/proc/net/if_inet6")) -> bool:
        """Whether nginx can listen on [::]:80: IPv6 sockets work and an interface has an
        address (both are off with ipv6.disable=1; the file is empty with disable_ipv6)."""
        try:
            socket.socket(socket.AF_INET6, socket.SOCK_STREAM).close()
            return bool(if_inet6.read_text().strip())
        except OSError:
            return False

    # --- rendering
    def render(self, site: Site) -> str:
        template = string.Template((self.paths.templates / "nginx-site.conf").read_text())
        tls = vhost_facts(self.paths, site)
        return template.substitute(
            name=site.name,
            listen=";\n    listen ".join(self._tls_listen() if tls else self.listen),
            access_log=self.paths.nginx_log(site.name, "access"),
            error_log=self.paths.nginx_log(site.name, "error"),
            socket=self.paths.socket(site.name),
            errors_dir=self.paths.errors,
            server_names=" ".join(site.domains),
            static_locations=self._static_locations(site, tls.hsts if tls else ""),
            **websocket.vhost_values(site),
            **self._tls_values(site, tls),
        )

    def _static_locations(self, site: Site, hsts: str = "") -> str:
        home = self.paths.site_home(site.name)
        # Copies pws made (root-owned, links never copied) need no link check: it costs an
        # openat per path component of every request. Aliases are dirs the site writes.
        targets = {url: (static_target(self.paths.static_root(site.name), url), False, None)
                   for url in site.static}
        targets.update({url: (home / d, d == "media" or d.startswith("media/"), home)
                        for url, d in site.aliases.items()})
        blocks = [_static_location(url, target, uploads, site_writes, hsts)
                  for url, (target, uploads, site_writes) in sorted(targets.items())]
        return "\n" + "\n".join(blocks) if blocks else ""

    # --- TLS (docs/architecture.md, "TLS"): kept apart from the plain-HTTP rendering above
    def _tls_listen(self) -> list[str]:
        """The HTTPS twins of self.listen: same addresses, port 443, with http2."""
        out = []
        for addr in self.listen:
            host, sep, _ = addr.rpartition(":")
            out.append(f"{host}:443 ssl http2" if sep else "443 ssl http2")
        return out

    def _tls_values(self, site: Site, tls: VhostFacts | None) -> dict[str, str]:
        acme = _acme_location(TlsPaths(self.paths).webroot)
        if tls is None:
            return dict(redirect_server="", tls_directives="", acme_location=acme, hsts="",
                        hsts_proxy="")
        stapling = (f"    ssl_stapling on;\n    ssl_stapling_verify on;\n"
                    f"    ssl_trusted_certificate {tls.chain};\n" if tls.chain else "")
        directives = (f"    ssl_certificate {tls.cert};\n    ssl_certificate_key {tls.key};\n"
                      f"    include {self.tls_snippet};\n{stapling}")
        # The app may send its own HSTS header: nginx's is the only one that counts.
        proxy = "\n        proxy_hide_header Strict-Transport-Security;" + _hsts_header(
            tls.hsts, indent=8, lead=True)
        return dict(redirect_server=self._redirect_server(site, acme), tls_directives=directives,
                    acme_location="", hsts=_hsts_header(tls.hsts, indent=8, lead=True),
                    hsts_proxy=proxy.rstrip("\n"))

    def _redirect_server(self, site: Site, acme: str) -> str:
        """Port 80 of a TLS site: ACME challenges answered, everything else 301 to https."""
        listen = "".join(f"    listen {addr};\n" for addr in self.listen)
        return (f"\n# Plain HTTP: only ACME challenges, everything else goes to https.\n"
                f"server {{\n{listen}"
                f"    server_name {' '.join(site.domains)};\n"
                f"    access_log {self.paths.nginx_log(site.name, 'access')};\n"
                f"    error_log {self.paths.nginx_log(site.name, 'error')};\n{acme}"
                f"    location / {{\n        return 301 https://$host$request_uri;\n    }}\n}}\n")

    @property
    def tls_snippet(self) -> Path:
        return self.paths.nginx / TLS_SNIPPET

    def _snippet_wanted(self, text: str) -> str | None:
        """The shared TLS snippet's text if this vhost includes it, else what is there now
        (it stays while other vhosts may include it; purge takes it away)."""
        if str(self.tls_snippet) not in text:
            return _read(self.tls_snippet)
        return (self.paths.templates / "nginx-tls.conf").read_text()

    def _put_snippet(self, text: str | None) -> None:
        if text is None:
            self.state.remove(self.tls_snippet)
        elif _read(self.tls_snippet) != text:
            self.state.write_file(self.tls_snippet, text)

    # --- changes, each validated and rolled back on failure
    def install(self, site: Site) -> None:
        """Write and enable the vhost, validate, reload; nothing at all if it is unchanged."""
        self.prepare_logs(site.name)
        vhost, link = self.paths.vhost(site.name), self.paths.vhost_link(site.name)
        text, target = self.render(site), f"../sites-available/{vhost.name}"
        with self.state.locked():
            before = (_read(vhost), _link_target(link))
            default_before = self._default_now()
            default_wanted = self._default_wanted(enabling=True)  # parses the config: once
            snippet_before, snippet_wanted = _read(self.tls_snippet), self._snippet_wanted(text)
            if (before == (text, target) and default_before == default_wanted
                    and snippet_before == snippet_wanted):
                return
            self._check_admin_config()
            self._put_snippet(snippet_wanted)
            self.state.write_file(vhost, text)
            self.state.symlink(link, target)
            if default_wanted != default_before:
                self._restore(*self._default_paths(), default_wanted)
            try:
                self.validate()
            except NginxConfigError:
                self._restore(vhost, link, before)
                self._restore(*self._default_paths(), default_before)
                self._put_snippet(snippet_before)
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

    def remove(self, name: str) -> NginxConfigError | None:
        """Disable and delete the vhost, and reload nginx if it accepts the result. Returns why
        nginx was not reloaded (its configuration fails `nginx -t`), None once it was."""
        with self.state.locked():
            self.state.remove(self.paths.vhost_link(name))
            self.state.remove(self.paths.vhost(name))
            self._sync_default()
        problem = self.config_problem()
        if problem is not None:
            return NginxConfigError(
                f"nginx was not reloaded after the vhost of {name} was removed: `nginx -t` fails:"
                f"\n{problem}\nUntil it is reloaded nginx keeps its previous configuration, "
                f"{name} included.", "fix the file `nginx -t` names, then run "
                "`systemctl reload nginx`.")
        self.reload()
        return None

    def disable(self, name: str) -> None:
        with self.state.locked():
            self.state.remove(self.paths.vhost_link(name))
            self._sync_default()

    def enable(self, name: str) -> bool:
        """Link a kept vhost into sites-enabled; True if it was not enabled."""
        vhost, link = self.paths.vhost(name), self.paths.vhost_link(name)
        target = f"../sites-available/{vhost.name}"
        if not vhost.exists() or _link_target(link) == target:
            return False
        self.prepare_logs(name)
        with self.state.locked():
            self.state.symlink(link, target)
            self._sync_default()
        return True

    def is_enabled(self, name: str) -> bool:
        return self.paths.vhost_link(name).is_symlink()

    # --- the sites' logs
    def prepare_logs(self, name: str) -> None:
        """The site's nginx logs as Debian's logrotate makes them (www-data:adm 0640), before
        nginx opens them: nginx itself would create them 0644, readable by every site user."""
        uid, gid = _uid(LOG_OWNER), _gid(LOG_GROUP)
        logs = [self.paths.nginx_log(name, kind) for kind in ("access", "error")]
        with safefs.opened_dir(logs[0].parent, create=True) as dirfd:
            for log in logs:
                _private_log(dirfd, log, uid, gid)

    # --- pws's default server
    def _default_paths(self) -> tuple[Path, Path]:
        return (self.paths.nginx / "sites-available" / DEFAULT_NAME,
                self.paths.nginx / "sites-enabled" / DEFAULT_NAME)

    def _default_now(self) -> tuple[str | None, str | None]:
        conf, link = self._default_paths()
        return _read(conf), _link_target(link)

    def _default_wanted(self, enabling: bool = False) -> tuple[str | None, str | None]:
        """The default server pws needs now: on the addresses of self.listen that no
        `default_server` of the admin's takes, while a pws vhost is (being) enabled."""
        if not (enabling or self._enabled_vhosts()):
            return None, None
        try:
            taken = {_address(a) for a in self.facts().default_servers}
        except NginxConfigError:  # unreadable: leave it as it is until nginx -t passes again
            return self._default_now()
        free = [a for a in self.listen if _address(a) not in taken]
        if not free:
            return None, None
        template = string.Template((self.paths.templates / "nginx-default.conf").read_text())
        text = template.substitute(listen=";\n    listen ".join(free), addresses=", ".join(free))
        return text, f"../sites-available/{DEFAULT_NAME}"

    def _enabled_vhosts(self) -> list[Path]:
        enabled = self.paths.nginx / "sites-enabled"
        return [p for p in enabled.glob("pws-*.conf") if p.name != DEFAULT_NAME]

    def _sync_default(self) -> None:
        """Write, or remove, pws's default server as _default_wanted says (lock held)."""
        wanted = self._default_wanted()
        if wanted != self._default_now():
            self._restore(*self._default_paths(), wanted)

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

    def config_problem(self) -> str | None:
        """What `nginx -t` says is wrong with the whole configuration; None if it passes."""
        try:
            run([*self.nginx_cmd, "-t", "-q"])
        except CommandFailed as exc:
            return exc.output or exc.problem
        return None

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


def _static_location(url: str, target: Path, uploads: bool, site_writes: Path | None,
                     hsts: str = "") -> str:
    """One alias location. Every file gets nosniff; uploads (media/) also a CSP that keeps
    them from running script in the site's origin. Where the site writes (below site_writes),
    nginx follows a link only to a file of the link's owner."""
    csp = ("        add_header Content-Security-Policy \"default-src 'none'; sandbox\" always;\n"
           if uploads else "")
    links = (f"        disable_symlinks if_not_owner from={site_writes};\n" if site_writes else "")
    return (f"    location {url} {{\n"
            f"        alias {target}/;\n"
            f"{links}"
            f"        access_log off;\n"
            f"        expires 1h;\n"
            f"        add_header Cache-Control \"public\";\n"
            f"        add_header X-Content-Type-Options \"nosniff\" always;\n"
            f"{csp}"
            f"{_hsts_header(hsts, indent=8)}"
            f"        try_files $uri =404;\n"
            f"    }}\n")


def _hsts_header(value: str, indent: int, lead: bool = False) -> str:
    """The HSTS add_header line (in every location: add_header is not inherited), or ""."""
    if not value:
        return ""
    line = f"{' ' * indent}add_header Strict-Transport-Security \"{value}\" always;"
    return f"\n{line}" if lead else f"{line}\n"


def _acme_location(webroot: Path) -> str:
    """ACME HTTP-01 challenges, from the root-only webroot certbot --webroot writes to; in
    every pws vhost's port-80 server, before anything else can redirect or proxy the path."""
    return ("    # ACME HTTP-01 challenges (certbot --webroot; see `pws tls`).\n"
            "    location ^~ /.well-known/acme-challenge/ {\n"
            f"        root {webroot};\n"
            "        default_type text/plain;\n"
            "        disable_symlinks on;\n"
            "        try_files $uri =404;\n"
            "    }\n")


def _address(listen: str) -> str:
    """A listen address as nginx matches it: `80`, `*:80` and `0.0.0.0:80` are one."""
    host, sep, port = listen.rpartition(":")
    if not sep:
        host, port = "*", listen
    return f"{'*' if host in ('', '0.0.0.0') else host}:{port}"


def _uid(user: str) -> int:
    try:
        return pwd.getpwnam(user).pw_uid
    except KeyError:  # a test root without the user: keep the owner
        return -1


def _gid(group: str) -> int:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        return -1


def _private_log(dirfd: int, log: Path, uid: int, gid: int) -> None:
    """Create log (if absent) or fix its owner and mode, never through a link: a link or a
    hard link at its name is removed first (nginx would write through it)."""
    st = safefs.lstat_at(dirfd, log.name)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise safefs.UnsafePath(f"{log} is a directory.", "remove it, then run the command again.")
    if st is not None and not (stat.S_ISREG(st.st_mode) and st.st_nlink == 1):
        safefs.unlink_at(dirfd, log.name)
    try:
        fd = os.open(log.name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
                     | os.O_NONBLOCK | os.O_CLOEXEC, LOG_MODE, dir_fd=dirfd)
    except OSError as exc:
        raise safefs.UnsafePath(f"{log} cannot be opened safely ({exc.strerror}).",
                                "remove it, then run the command again.") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            raise safefs.UnsafePath(f"{log} is not a plain file.", "remove it, then run the "
                                    "command again.")
        os.fchown(fd, uid, gid)
        os.fchmod(fd, LOG_MODE)
    finally:
        os.close(fd)


def static_target(static_root: Path, url: str) -> Path:
    """Where a copied static URL prefix is served from: STATIC/copies/SLUG, one dir per
    prefix ('/' becomes '+', which no prefix holds), apart from what a formula writes there
    (Django's static/django). nginx serves the live release's through `current/static`."""
    return static_root / "copies" / url.strip("/").replace("/", "+")


def _read(path: Path) -> str | None:
    return path.read_text() if path.is_file() and not path.is_symlink() else None


def _link_target(path: Path) -> str | None:
    return os.readlink(path) if path.is_symlink() else None
