"""Starting a site's app and telling, within seconds, whether it came up (docs/architecture.md):
mksite and `pws restart` start the service, then probe the ready paths through nginx while
watching the service manager; when gunicorn or the app dies at start (an exception at import,
a worker that fails to boot) they stop waiting at once and report the app's own error and,
where pws can tell, the fix (apperror.py)."""
from __future__ import annotations

import time
from collections.abc import Callable

from . import apperror, probe
from .errors import CommandFailed, NotReady

POLL = 0.3
APP_LINES_WAIT = 3.0  # seconds the app's last lines may lag behind the news of its death
ERRORS_TOLERATED = 3  # the app's own 5xx answers before it counts as broken


class BootFailed(NotReady):
    """The app died while it started: the message carries its own error."""


def start_and_wait(services, site, ready_paths: list[str], start: Callable[[], None], *,
                   after: str, within: float = 60.0) -> None:
    """start() the service, then wait until every ready path answers below 500 through nginx;
    raises BootFailed (the app died) or NotReady (a server error, or no answer in time), with
    after (what became of the site) in the fix."""
    before = services.log_mark(site.name)
    try:
        start()
    except CommandFailed as exc:
        _raise_if_died(services, site, before, before, after, wait=2.0)
        raise exc
    # A death counts from here (a restart's stop is logged before); its error from before.
    started = services.log_mark(site.name)
    deadline = time.monotonic() + within
    for path in ready_paths:
        _wait_for(services, site, path, (started, before), deadline, after)


def _wait_for(services, site, path: str, marks: tuple[str, str], deadline: float,
              after: str) -> None:
    errors = 0
    while True:
        _raise_if_died(services, site, *marks, after)
        try:
            status = probe.get(site.domains[0], path, timeout=max(0.1, min(5.0, deadline - time.monotonic())))
        except OSError:
            status = None
        if status is not None and status < 500:
            return
        errors += status is not None and status not in probe.NOT_UP_YET
        if errors >= ERRORS_TOLERATED or time.monotonic() >= deadline:
            what = (f"did not answer GET {path} through nginx without a server error "
                    + (f"(it answered {status})" if errors >= ERRORS_TOLERATED
                       else "in time"))
            lines = apperror.app_error(services.status(site.name).last_errors)
            raise NotReady(f"Site '{site.name}' {what}{apperror.message(lines)}",
                           _fix(lines, site.name, after))
        time.sleep(POLL)


def _raise_if_died(services, site, mark: str, before: str, after: str,
                   wait: float = 0.0) -> None:
    """BootFailed with the app's error (its log since before) if its gunicorn died since mark
    (looked at for up to wait seconds)."""
    until = time.monotonic() + wait
    while True:
        died = services.start_failure(site.name, mark)
        if died is not None or time.monotonic() >= until:
            break
        time.sleep(POLL)
    if died is None:
        return
    # The app's output reaches the journal by another way than systemd's own lines, and may
    # come a moment later: wait for its exception a little.
    until = time.monotonic() + APP_LINES_WAIT
    died = services.start_failure(site.name, before) or died
    while not apperror.has_exception(died) and time.monotonic() < until:
        time.sleep(POLL)
        died = services.start_failure(site.name, before) or died
    lines = apperror.app_error(died)
    raise BootFailed(f"Site '{site.name}' stopped while it started (gunicorn or the app died)"
                     f"{apperror.message(lines)}", _fix(lines, site.name, after))


def _fix(lines: list[str], name: str, after: str) -> str:
    fix = apperror.fix_for(lines, name)
    return f"{fix}; {after}" if fix else f"fix the project (the app's error is above); {after}"
