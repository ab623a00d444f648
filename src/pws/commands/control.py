"""pws start|stop|restart|reload NAME|--all, and pws apply NAME|--all."""
from __future__ import annotations

import argparse

from .. import formulae, site as sitemod
from ..environment import Env
from ..errors import InvalidInput
from ..locks import site_lock
from ..transaction import Transaction
from .deploy_cmd import redeploy_live


def _targets(args: argparse.Namespace, env: Env) -> list[str]:
    if args.all:
        return sitemod.names(env.paths)
    if not args.name:
        raise InvalidInput("No site named.", "give a site name, or --all.")
    return [sitemod.load(env.paths, args.name).name]


def run_action(args: argparse.Namespace, env: Env) -> int:
    env.require_root(f"pws {args.command}")
    action = getattr(env.services, args.command)
    for name in _targets(args, env):
        with site_lock(env.paths, name):
            if args.command in ("reload", "restart"):
                _check_app(env, name)
            with env.ui.step(f"{args.command} {name}"):
                action(name)
    return 0


def _check_app(env: Env, name: str) -> None:
    """Refuse to replace working code by code that does not import: the old code keeps serving."""
    site = sitemod.load(env.paths, name)
    formula = formulae.load(site.formula, env.paths)
    formula.check_app(formulae.Context(site, env.paths, env.ui, Transaction()))


def run_apply(args: argparse.Namespace, env: Env) -> int:
    env.require_root("pws apply")
    for name in _targets(args, env):
        apply_one(env, name)
    return 0


def apply_one(env: Env, name: str) -> None:
    with site_lock(env.paths, name):
        apply_locked(env, name)


def apply_locked(env: Env, name: str) -> None:
    """apply_one for a caller that already holds the site lock."""
    site = sitemod.load(env.paths, name)
    formula = formulae.load(site.formula, env.paths)
    env.ui.say(f"applying {name}")
    # A new release of the live code: a failure anywhere leaves the live release serving.
    redeploy_live(env, site, formula, "pws apply")
