"""pws health NAME|--all: a real HTTP request through each running site's socket; a site that
does not answer within its health_timeout is killed and restarted, with the reason logged
and recorded as an alert. Run every 15 s by pws-health.timer, which also scales idle sites
to zero: a site with idle=N whose nginx access log has not moved for N minutes and that
holds no open connection (a websocket: nginx logs it when it closes) has its gunicorn
stopped; its socket stays, so the next request starts it again.

Each site is checked on its own: a broken site file, a probe that fails or any error of one
site is reported for that site, and the pass goes on to the others."""
from __future__ import annotations

import argparse
import sys
import time

from .. import probe, site as sitemod, validate
from ..unix_sockets import open_connections
from ..environment import Env
from ..errors import PwsError
from ..locks import SiteBusy, site_lock
from ..tls.manager import TlsSites
from . import alerts


def run(args: argparse.Namespace, env: Env) -> int:
    env.require_root("pws health")
    names = sitemod.names(env.paths) if args.all else [sitemod.load(env.paths, args.name).name]
    # One systemctl call for every site's state (the pass runs every 15 s: per-site calls
    # were most of its cost with many sites).
    states = _states(env, names)
    problems = sum(_check_isolated(env, name, states.get(name, "")) for name in names)
    return 0 if not problems else 1


def _states(env: Env, names: list[str]) -> dict[str, str]:
    try:
        return env.services.states([n for n in names if _valid(n)])
    except (PwsError, OSError):
        return {}  # each site is then asked on its own


def _valid(name: str) -> bool:
    try:
        validate.site_name(name)
        return True
    except PwsError:
        return False


def _check_isolated(env: Env, name: str, state: str = "") -> int:
    """1 if the site had a problem (reported on stderr), else 0; never raises a PwsError."""
    try:
        validate.site_name(name)  # before its name makes a lock file name
        with site_lock(env.paths, name, wait=False):
            return _check(env, name, state) + _check_certificate(env, name)
    except SiteBusy:
        return 0  # being created, reloaded or removed right now: next pass
    except (PwsError, OSError) as exc:
        _report(name, f"not checked: {exc}")
        return 1


def _check(env: Env, name: str, state: str = "") -> int:
    """Probe one site; 1 if it was hung (and has been restarted). state: the site's service
    state if known (from one call for all sites)."""
    site = sitemod.load(env.paths, name)
    if not (state or env.services.status(name).state).startswith("active"):
        return 0  # stopped, idle (scaled to zero) or failed: nothing to probe
    if _idle_for(env, site) >= site.idle * 60 > 0:
        held = open_connections(env.paths.socket(name))
        if not held:
            env.ui.say(f"{name}: idle for {site.idle} min: stopping gunicorn (socket stays)")
            env.services.stop_until_request(name)
            return 0
        # nginx logs a websocket when it closes: no new request, yet clients are connected.
        env.ui.say(f"{name}: no new request for {site.idle} min, but {held} connection(s) "
                   "open (websockets): kept running")
    failure = _probe_failure(env, site)
    if failure is None:
        env.ui.say(f"{name}: ok")
        return 0
    reason = f"no answer to GET {site.health_path} within {site.health_timeout}s ({failure}): restarted"
    _report(name, reason)
    try:
        env.services.kill_and_restart(name)
    finally:
        alerts.record(env, name, reason)
    return 1


def _check_certificate(env: Env, name: str) -> int:
    """1 if the site's certificate is near expiry or failed to renew (alerted once a day)."""
    reason = TlsSites(env).check(sitemod.load(env.paths, name))
    if reason is None:
        return 0
    _report(name, reason)
    alerts.record(env, name, reason)
    return 1


def _report(name: str, problem: str) -> None:
    print(f"pws-health: site {sitemod.shown_name(name)}: {problem}", file=sys.stderr, flush=True)


def _idle_for(env: Env, site) -> float:
    """Seconds since the last request nginx logged for the site (the waking one included)."""
    log = env.paths.nginx_log(site.name, "access")
    return time.time() - (log.stat().st_mtime if log.exists() else 0)


def _probe_failure(env: Env, site) -> str | None:
    """None if the site answered within its health_timeout, else what went wrong."""
    try:
        probe.get(site.domains[0], site.health_path, unix=env.paths.socket(site.name),
                  timeout=site.health_timeout)
        return None
    except OSError as exc:
        return str(exc) or type(exc).__name__
