"""pws config NAME [KEY=VALUE ...]: show or change a site's tunables, then re-render it."""
from __future__ import annotations

import argparse

from .. import formulae, site as sitemod, validate
from ..environment import Env
from ..errors import InvalidInput
from ..locks import site_lock

TUNABLES = {
    "workers": (int, "gunicorn worker processes"),
    "timeout": (int, "seconds before a stuck request's worker is restarted"),
    "health_path": (str, "path the health probe requests"),
    "health_timeout": (int, "seconds without an answer before the site counts as hung"),
    "idle": (int, "minutes without a request before gunicorn stops (0: never)"),
    "keep_releases": (int, "earlier releases kept for pws rollback"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("settings", nargs="*", metavar="KEY=VALUE",
                        help=", ".join(f"{k} ({text})" for k, (_, text) in TUNABLES.items()))


def run(args: argparse.Namespace, env: Env) -> int:
    site = sitemod.load(env.paths, args.name)
    if not args.settings:
        for key in TUNABLES:
            print(f"{key} = {getattr(site, key)}")
        return 0
    env.require_root("pws config")
    changes = dict(_parse(setting) for setting in args.settings)
    with site_lock(env.paths, site.name):
        site = sitemod.load(env.paths, args.name)
        for key, value in changes.items():
            setattr(site, key, value)
        site.check()
        sitemod.save(env.paths, site)
        # Tunables change how the live release is served, not what it is: pws's own files
        # again, then a new master if they changed (no new release, no health gate).
        done = env.deployer.rerender(site, formulae.load(site.formula, env.paths))
        env.ui.say(f"{site.name}: {done}")
    return 0


def _parse(setting: str) -> tuple[str, object]:
    key, sep, raw = setting.partition("=")
    if not sep or key not in TUNABLES:
        raise InvalidInput(f"{setting!r} is not KEY=VALUE with a known KEY.",
                           f"use one of: {', '.join(TUNABLES)}.")
    if TUNABLES[key][0] is int:
        return key, validate.int_text(key, raw)
    return key, validate.health_path(raw)
