"""rmsite NAME: remove everything mksite made; the source and data only when told to."""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil

from .. import formulae, site as sitemod, users
from ..environment import Env
from ..fsutil import remove_path
from ..transaction import Transaction


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the site to remove")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--delete-source", action="store_true", default=None,
                        help="also delete the project source and data (media/, data/)")
    source.add_argument("--keep-source", dest="delete_source", action="store_false",
                        help="keep the source and data in /srv/pws/NAME (the default)")
    parser.add_argument("--yes", "-y", action="store_true", help="ask nothing; take the defaults")


def run(args: argparse.Namespace, env: Env) -> int:
    env.require_root("rmsite")
    site = sitemod.load(env.paths, args.name)
    paths, ui = env.paths, env.ui
    home = paths.site_home(site.name)
    delete_source = args.delete_source
    if delete_source is None:
        delete_source = ui.confirm(f"Delete the source and data in {home}?", default=False,
                                   flag="--delete-source/--keep-source")
    formula = _formula_or_none(env, site.formula)
    if formula:
        formula.remove(formulae.Context(site, paths, ui, Transaction()), args)
    with ui.step("stopping the site"):
        env.services.uninstall(site.name)
    with ui.step("removing the nginx vhost"):
        env.web.remove(site.name)
    for path in (paths.gunicorn_conf(site.name),):
        remove_path(path)
    shutil.rmtree(paths.secrets_dir(site.name), ignore_errors=True)
    _remove_home(env, site.name, delete_source)
    users.remove(site.user)
    paths.site_file(site.name).unlink()
    ui.say(f"Site '{site.name}' removed." + ("" if delete_source else f" Source and data kept in {home}."))
    return 0


def _formula_or_none(env: Env, name: str):
    try:
        return formulae.load(name, env.paths)
    except formulae.PwsError as exc:
        env.ui.warn(f"{exc} Removing the site without its formula's teardown.")
        return None


def _remove_home(env: Env, name: str, delete_source: bool) -> None:
    home = env.paths.site_home(name)
    if delete_source:
        shutil.rmtree(home, ignore_errors=True)
        with contextlib.suppress(OSError):
            home.parent.rmdir()  # /srv/pws, once its last site is gone
        return
    for derived in ("venv", "static"):
        shutil.rmtree(home / derived, ignore_errors=True)
    if home.is_dir():  # the site user is about to go: hand what is kept to root
        for dirpath, dirnames, filenames in os.walk(home):
            for entry in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                os.chown(entry, 0, 0, follow_symlinks=False)
