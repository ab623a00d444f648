"""pws run NAME -- COMMAND [ARG...]: a one-off command of the site, as the site user.

In the site's venv (its bin/ first on PATH: `python` is the venv's) and environment (the env
file every process of the site gets), from the project's dir, through runas like everything
of a site: on a pty of its own when root is at a terminal, plain pipes otherwise. Its exit
status is pws's. Nothing of the caller's environment is passed.
"""
from __future__ import annotations

import argparse

from .. import formulae, site as sitemod
from ..environment import Env
from ..errors import InvalidInput
from ..formulae import Context
from ..transaction import Transaction


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- COMMAND [ARG...]",
                        help="the command and its arguments, after --")


def run(args: argparse.Namespace, env: Env) -> int:
    env.require_root("pws run")
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise InvalidInput("No command given.",
                           f"put it after --, e.g. pws run {args.name} -- python manage.py shell.")
    site = sitemod.load(env.paths, args.name)
    formula = formulae.load(site.formula, env.paths)
    ctx = Context(site, env.paths, env.ui, Transaction())
    status = ctx.run_as_site(argv, problem="", cwd=formula.work_dir(ctx), capture=False)
    return status if status >= 0 else 128 - status  # killed by a signal: as a shell says it
