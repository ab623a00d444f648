"""pws health NAME|--all: a real HTTP request through each running site's socket; a site that
does not answer within its health_timeout is killed and restarted, with the reason logged
and recorded as an alert. Run every 15 s by pws-health.timer, which also scales idle sites
to zero: a site with idle=N whose nginx access log has not moved for N minutes has its
gunicorn stopped; its socket stays, so the next request starts it again."""
from __future__ import annotations

import argparse
import sys
import time

from .. import probe, site as sitemod
from ..environment import Env
from ..locks import SiteBusy, site_lock
from . import alerts


def run(args: argparse.Namespace, env: Env) -> int:
    env.require_root("pws health")
    names = sitemod.names(env.paths) if args.all else [sitemod.load(env.paths, args.name).name]
    hung = 0
    for name in names:
        try:
            with site_lock(env.paths, name, wait=False):
                hung += _check(env, name)
        except SiteBusy:
            continue  # being created, reloaded or removed right now: next pass
    return 0 if not hung else 1


def _check(env: Env, name: str) -> int:
    """Probe one site; 1 if it was hung (and has been restarted)."""
    site = sitemod.load(env.paths, name)
    if not env.services.status(name).state.startswith("active"):
        return 0  # stopped, idle (scaled to zero) or failed: nothing to probe
    if _idle_for(env, site) >= site.idle * 60 > 0:
        env.ui.say(f"{name}: idle for {site.idle} min: stopping gunicorn (socket stays)")
        env.services.stop_until_request(name)
        return 0
    if _answers(env, site):
        env.ui.say(f"{name}: ok")
        return 0
    reason = f"no answer to GET {site.health_path} within {site.health_timeout}s: restarted"
    print(f"pws-health: site {name}: {reason}", file=sys.stderr, flush=True)
    env.services.kill_and_restart(name)
    alerts.record(env, name, reason)
    return 1


def _idle_for(env: Env, site) -> float:
    """Seconds since the last request nginx logged for the site (the waking one included)."""
    log = env.paths.nginx_log(site.name, "access")
    return time.time() - (log.stat().st_mtime if log.exists() else 0)


def _answers(env: Env, site) -> bool:
    try:
        probe.get(site.domains[0], site.health_path, unix=env.paths.socket(site.name),
                  timeout=site.health_timeout)
        return True
    except OSError:
        return False
