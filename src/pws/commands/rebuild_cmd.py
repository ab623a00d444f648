"""pws rebuild NAME|--all: a venv for the system's Python for the sites made for another one
(after a Debian release upgrade; the python3 trigger does the same by itself)."""
from __future__ import annotations

import argparse

from .. import python_change, site as sitemod
from ..environment import Env
from ..errors import InvalidInput, PwsError


def run(args: argparse.Namespace, env: Env) -> int:
    env.require_root("pws rebuild")
    if args.all:
        names = sitemod.names(env.paths)
    elif args.name:
        names = [sitemod.load(env.paths, args.name).name]
    else:
        raise InvalidInput("No site named.", "give a site name, or --all.")
    stale = {item.name for item in python_change.stale_sites(env, names)}
    for name in names:
        if name not in stale:
            env.ui.say(f"site {name}: its venv is for Python {python_change.system_python()} "
                       "already; nothing to rebuild.")
    failed = python_change.rebuild_stale(env, [n for n in names if n in stale])
    if failed:
        raise PwsError(f"{len(failed)} site(s) could not be rebuilt: {', '.join(failed)} "
                       "(each still serves its old release).",
                       "see the messages above and `pws alerts`.")
    return 0
