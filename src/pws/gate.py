"""The health gate of a release (docs/architecture.md): before any traffic moves to it, the
release runs on a socket of its own (one worker, as the site user, with the site's config and
environment) and must answer each of the formula's ready paths, sent with the site's real Host
header, below 500. The live release serves meanwhile, untouched."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from . import apperror, probe, safefs, scopes, users
from .errors import PwsError
from .paths import Paths
from .releases import Release
from .site import Site
from .spawn import spawn_with_socket


class GateFailed(PwsError):
    """A release did not answer its health check: it is refused, the live one keeps serving."""


def check(paths: Paths, site: Site, release: Release, ready_paths: list[str], *,
          within: float = 60.0, keep: Callable[[], set[int]] = set) -> None:
    """Start release on its own socket and probe it; raises GateFailed with the app's own
    error (the end of its log) when it does not answer in time or answers with a 5xx."""
    sock_path = paths.socket(site.name).with_name(f"{site.name}.gate.sock")
    with _listener(sock_path) as listener, tempfile.TemporaryFile() as log:
        argv = [str(release.venv / "bin" / "gunicorn"), "--config",
                str(paths.gunicorn_conf(site.name)), "--workers", "1"]
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": str(paths.site_home(site.name)),
               "PWS_RELEASE": str(release.dir)}
        with scopes.confined(site.user, site.limits):  # the owner's limits, as in the service
            pid = spawn_with_socket(site.user, argv, env, release.app, log.fileno(),
                                    listener.fileno())
        try:
            deadline = time.monotonic() + within
            for path in ready_paths:
                problem = _probe(sock_path, site.domains[0], path, pid, deadline)
                if problem:
                    lines = apperror.app_error(_log_lines(log))
                    fix = apperror.fix_for(lines, site.name)
                    raise GateFailed(f"Release {release.id} of '{site.name}' {problem}"
                                     f"{apperror.message(lines)}",
                                     f"{fix + '; ' if fix else 'fix the project, '}deploy again; "
                                     "the live release still serves.")
        finally:
            _stop(pid)
            users.kill_strays(site.user, keep())


def _probe(sock: Path, host: str, path: str, pid: int, deadline: float) -> str | None:
    """None once GET path answers below 500; else what went wrong."""
    errors = 0
    while time.monotonic() < deadline:
        if _exited(pid):
            return "stopped before it answered (gunicorn or the app died at start)"
        try:
            left = deadline - time.monotonic()
            status = probe.get(host, path, unix=sock, timeout=max(0.1, min(5.0, left)))
        except OSError:
            time.sleep(0.05)
            continue
        if status < 500:
            return None
        errors += 1
        if errors >= 3:
            return f"answered GET {path} (Host: {host}) with {status}"
        time.sleep(0.2)
    return f"did not answer GET {path} (Host: {host}) within the time allowed"


def _exited(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid


def _stop(pid: int) -> None:
    """KILL the gate's gunicorn (its own session) at once: it served the probe and nothing
    else, so there is nothing to finish (a graceful TERM cost each deploy a few tenths of a
    second); wait until it is reaped."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not _exited(pid):
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


@contextlib.contextmanager
def _listener(path: Path):
    """A socket root binds in its own /run/pws (0600: root alone connects)."""
    safefs.make_dir(path.parent, 0o755, 0, 0)
    _unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    try:
        sock.listen(64)
        yield sock
    finally:
        sock.close()
        _unlink(path)


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError), safefs.opened_dir(path.parent) as fd:
        safefs.unlink_at(fd, path.name)


def _log_lines(log) -> list[str]:
    """The end of the gate's log (gunicorn's and the app's output)."""
    log.seek(0)
    return log.read()[-65536:].decode(errors="replace").splitlines()
