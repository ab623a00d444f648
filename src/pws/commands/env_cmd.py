"""pws env NAME [--show] | set KEY=VALUE|KEY ... | unset KEY ...: the app's own variables.

Stored as the site's secret `user_env` (appenv, SecretsStore), merged into the env file every
process of the site gets, then applied to the running app (_apply: health gate, new master);
refused and put back if the app does not answer with them.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable

from .. import appenv, formulae, site as sitemod
from ..environment import Env
from ..errors import InvalidInput
from ..formulae import Context
from ..locks import site_lock
from ..rollout import Rollout
from ..secrets_store import SecretsStore
from ..site import Site
from ..transaction import Transaction
from ..ui import printable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=("set", "unset"),
                        help="set KEY=VALUE ... (a bare KEY: its value from stdin), "
                             "or unset KEY ...; without it, list the variables")
    parser.add_argument("items", nargs="*", metavar="KEY[=VALUE]", help="the variables")
    parser.add_argument("--show", action="store_true", help="print the values (masked otherwise)")


def run(args: argparse.Namespace, env: Env) -> int:
    env.require_root("pws env")
    site = sitemod.load(env.paths, args.name)
    if args.action is None:
        if args.items:
            raise InvalidInput(f"Unexpected {args.items[0]!r}.",
                               f"use pws env {site.name} set KEY=VALUE, or unset KEY.")
        _list(env, site, args.show)
        return 0
    if args.show:
        raise InvalidInput("--show only goes with the listing.", f"run pws env {site.name} --show.")
    pws_names = _pws_names(env, site)
    if args.action == "set":
        changes = appenv.parse_assignments(args.items, _read_value, pws_names)
    else:
        appenv.check_names(args.items, pws_names)
        changes = dict.fromkeys(args.items)
    with site_lock(env.paths, site.name):
        _change(env, sitemod.load(env.paths, site.name), changes)
    return 0


def _pws_names(env: Env, site: Site) -> set[str]:
    """The variables pws sets for this site (the formula's too): never the admin's."""
    formula = formulae.load(site.formula, env.paths)
    ctx = Context(site, env.paths, env.ui, Transaction())
    return {*formula.env(ctx), *(k for k, why in appenv.RESERVED.items() if why == appenv.PWS_SETS)}


def _change(env: Env, site: Site, changes: dict[str, str | None]) -> None:
    """Store the new variables (None: unset), then make the running app see them."""
    store = SecretsStore(env.paths, site)
    current = store.user_env()
    wanted = dict(current)
    for key, value in changes.items():
        if value is not None:
            wanted[key] = value
        elif wanted.pop(key, None) is None:
            env.ui.warn(f"{key} was not set for {site.name}.")
    if wanted == current:
        env.ui.say(f"{site.name}: environment unchanged")
        return
    appenv.check_count(wanted)
    store.write_user_env(wanted)
    env.ui.say(f"{site.name}: {_summary(current, wanted)}")
    _apply(env, site, lambda: store.write_user_env(current))


def _apply(env: Env, site: Site, restore: Callable[[], None]) -> None:
    """Make the running app see the stored environment: the env file rewritten, the live
    release gated with it, then a new master (no request lost). If the gate refuses,
    restore() puts the admin's old variables back and the env file follows."""
    formula = formulae.load(site.formula, env.paths)
    ctx = Context(site, env.paths, env.ui, Transaction())
    if not env.deployer.write_env(ctx, formula):
        return

    def undo() -> None:
        restore()
        env.deployer.write_env(ctx, formula)

    Rollout(env).restart_in_place(site, formula, undo)


def _summary(before: dict[str, str], after: dict[str, str]) -> str:
    added = sorted(after.keys() - before.keys())
    changed = sorted(k for k in after.keys() & before.keys() if after[k] != before[k])
    removed = sorted(before.keys() - after.keys())
    parts = [f"{what} {', '.join(names)}" for what, names in
             (("set", added), ("changed", changed), ("unset", removed)) if names]
    return "; ".join(parts)


def _read_value(key: str) -> str:
    """A bare KEY's value: typed without echo on a terminal, else stdin less one line end."""
    if sys.stdin.isatty():
        return getpass.getpass(f"value of {key}: ")
    data = sys.stdin.buffer.read(appenv.MAX_VALUE + 3)
    for end in (b"\r\n", b"\n"):
        if data.endswith(end):
            data = data[:-len(end)]
            break
    return appenv.decode(data)


def _list(env: Env, site: Site, show: bool) -> None:
    store = SecretsStore(env.paths, site)
    mine, merged = store.user_env(), Context(site, env.paths, env.ui, Transaction()).site_env()
    pws_own = {k: v for k, v in merged.items() if k not in mine or mine[k] != v}
    lines = [f"# the app's variables (pws env {site.name} set|unset)"]
    lines += [_line(k, v, show, "" if merged.get(k) == v else "  # not used: pws sets it")
              for k, v in sorted(mine.items())]
    lines += ["# set by pws"] + [_line(k, v, show) for k, v in sorted(pws_own.items())]
    _print(lines)


def _line(key: str, value: str, show: bool, note: str = "") -> str:
    return f"{key}={value if show else appenv.mask(value)}{note}"


def _print(lines: list[str]) -> None:
    """Exact bytes into a pipe or file; control characters escaped on a terminal."""
    if sys.stdout.isatty():
        print("\n".join(printable(line) for line in lines), flush=True)
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(b"".join(appenv.encode(line + "\n") for line in lines))
        sys.stdout.buffer.flush()
