"""rmsite NAME: remove everything mksite made; the source and data only when told to."""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil

from .. import databases, formulae, pending, runas, safefs, site as sitemod, users
from ..environment import Env
from ..services import process_units
from ..fsutil import remove_path
from ..locks import site_lock
from ..releases import Releases
from ..secrets_store import SecretsStore
from ..transaction import Transaction
from ..tls import MODES
from ..tls.manager import TlsSites


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the site to remove")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--delete-source", action="store_true", default=None,
                        help="also delete the project source and data (media/, data/)")
    source.add_argument("--keep-source", dest="delete_source", action="store_false",
                        help="keep the source and data in /srv/pws/NAME (the default)")
    data = parser.add_argument_group("the site's database (asked in this order when not given)")
    data.add_argument("--drop-tables", action="store_true", default=None, help="drop its tables")
    data.add_argument("--drop-database", action="store_true", default=None, help="drop the database")
    data.add_argument("--drop-owner", action="store_true", default=None,
                      help="drop the database's owner role")
    data.add_argument("--keep-data", action="store_true",
                      help="drop nothing of the database (the default without a terminal)")
    cert = parser.add_mutually_exclusive_group()
    cert.add_argument("--delete-certificate", action="store_true", default=None,
                      help="also delete the site's TLS certificate (certbot delete, or pws's own)")
    cert.add_argument("--keep-certificate", dest="delete_certificate", action="store_false",
                      help="keep the certificate (the default)")
    parser.add_argument("--yes", "-y", action="store_true", help="ask nothing; take the defaults")


def run(args: argparse.Namespace, env: Env) -> int:
    env.require_root("rmsite")
    half_made = pending.read(env.paths, args.name)
    if half_made is None:
        sitemod.load(env.paths, args.name)  # a clear error before taking the lock
    with site_lock(env.paths, args.name):
        half_made = pending.read(env.paths, args.name)
        if half_made is not None:
            return _remove_half_made(env, half_made)
        return _remove(args, env)


def _remove_half_made(env: Env, site) -> int:
    process_units.manager(env.paths).remove(site.name)
    """What an interrupted mksite made never went live: all of it goes, nothing is asked
    (mksite had checked that none of it existed before it started)."""
    paths, ui = env.paths, env.ui
    ui.say(f"'{site.name}' was left half-made by an interrupted mksite: removing all of it.")
    formula = _formula_or_none(env, site.formula)
    if formula:
        formula.remove(formulae.Context(site, paths, ui, Transaction()), argparse.Namespace())
    env.services.uninstall(site.name)
    env.web.remove(site.name)
    db = databases.for_site(site, paths) if site.database == "postgresql" else None
    if db is not None and db.exists(site):
        for what in ("database", "owner"):
            ui.say(getattr(db, f"drop_{what}")(site))
    for path in (paths.gunicorn_conf(site.name), paths.site_file(site.name)):
        remove_path(path)
    for tree in (paths.secrets_dir(site.name), paths.site_home(site.name),
                 paths.site_pip_cache(site.name), paths.build_dir(site.name)):
        shutil.rmtree(tree, ignore_errors=True)
    users.remove(site.user)
    pending.end(paths, site.name)
    ui.say(f"Half-made site '{site.name}' removed.")
    return 0


def _remove(args: argparse.Namespace, env: Env) -> int:
    site = sitemod.load(env.paths, args.name)
    paths, ui = env.paths, env.ui
    home = paths.site_home(site.name)
    delete_source = args.delete_source
    if delete_source is None:
        delete_source = ui.confirm(f"Delete the source and data in {home}?", default=False,
                                   flag="--delete-source/--keep-source")
    drops = _database_choices(args, env, site)
    delete_certificate = _certificate_choice(args, env, site)
    formula = _formula_or_none(env, site.formula)
    if formula:
        formula.remove(formulae.Context(site, paths, ui, Transaction()), args)
    with ui.step("stopping the site"):
        process_units.manager(paths).remove(site.name)
        env.services.uninstall(site.name)
    with ui.step("removing the nginx vhost"):
        if (nginx_problem := env.web.remove(site.name)) is not None:
            ui.warn(str(nginx_problem))
    _drop_database(env, site, drops, args.keep_data)
    if said := TlsSites(env).remove(site, delete_certificate):
        ui.say(said)
    for path in (paths.gunicorn_conf(site.name),):
        remove_path(path)
    for tree in (paths.site_pip_cache(site.name), paths.build_dir(site.name)):
        shutil.rmtree(tree, ignore_errors=True)
    keep_data = (site.database == "sqlite" and "database" not in drops
                 and databases.for_site(site, paths).exists(site))  # an SQLite file to keep
    _keep_or_remove_secrets(env, site, keeps_data=not delete_source
                            or _database_kept(env, site, drops))
    _remove_home(env, site.name, delete_source, keep_data)
    users.remove(site.user)
    paths.site_file(site.name).unlink()
    kept = "" if not home.exists() else f" Kept in {home}: {', '.join(sorted(p.name for p in home.iterdir()))}."
    ui.say(f"Site '{site.name}' removed.{kept}")
    return 0


def _certificate_choice(args, env: Env, site) -> bool:
    """Whether to delete the site's certificate: the flag, else asked (kept without a terminal)."""
    if args.delete_certificate is not None:
        return args.delete_certificate
    sites = TlsSites(env)
    if not any(sites.has_certificate(site.name, mode) for mode in MODES):
        return False
    return env.ui.confirm(f"Delete the TLS certificate of {site.name}?", default=False,
                          flag="--delete-certificate/--keep-certificate")


def _database_choices(args, env: Env, site) -> list[str]:
    """Which of tables, database, owner to drop: flags, else questions in that order."""
    db = databases.for_site(site, env.paths)
    if db is None or args.keep_data or not db.exists(site):  # nothing to ask about
        return []
    levels = [("tables", "drop_tables"), ("database", "drop_database"), ("owner", "drop_owner")]
    # Dropping the database implies its tables; dropping the owner implies both.
    deepest = max((i for i, (_, flag) in enumerate(levels) if getattr(args, flag)), default=-1)
    if db.kind == "sqlite":  # no owner role: --drop-owner drops all there is
        levels = levels[:2]
        deepest = min(deepest, 1)
    chosen = [what for what, _ in levels[:deepest + 1]]
    for what, flag in levels[deepest + 1:]:
        if not env.ui.confirm(f"Drop the {what} of {db.describe(site)}?", default=False,
                              flag=f"--{flag.replace('_', '-')}"):
            break
        chosen.append(what)
    return chosen


def _drop_database(env: Env, site, drops: list[str], keep_data: bool) -> None:
    db = databases.for_site(site, env.paths)
    if db is None:
        return
    for what in drops:
        env.ui.say(getattr(db, f"drop_{what}")(site))
    if "database" not in drops and (drops or keep_data or db.exists(site)):
        env.ui.say(f"Kept: {db.describe(site)} ({', '.join(drops) or 'nothing'} dropped).")


def _database_kept(env: Env, site, drops: list[str]) -> bool:
    db = databases.for_site(site, env.paths)
    return db is not None and "database" not in drops and db.exists(site)


def _keep_or_remove_secrets(env: Env, site, *, keeps_data: bool) -> None:
    """SECRET_KEY and the database password stay with kept data (signed or encrypted with them)."""
    store = SecretsStore(env.paths, site)
    if not keeps_data:
        store.remove()
        return
    kept = store.keep_for_data()
    if kept:
        env.ui.say(f"Kept the site's secrets (SECRET_KEY, database password) with its data: {kept}")


def _formula_or_none(env: Env, name: str):
    try:
        return formulae.load(name, env.paths)
    except formulae.PwsError as exc:
        env.ui.warn(f"{exc} Removing the site without its formula's teardown.")
        return None


def _remove_home(env: Env, name: str, delete_source: bool, keep_data: bool) -> None:
    """Derived dirs always go; the source too if asked (else the live release's code is kept
    as app/); data/ (SQLite) only with its drop."""
    home = env.paths.site_home(name)
    users.kill_leftovers(f"pws-{name}")  # nothing of the site may change the tree meanwhile
    live = Releases(env.paths, name).current()
    if live is not None and not delete_source and not (home / "app").exists():
        os.rename(live.app, home / "app")  # root's dirs on one filesystem: no copy, no link
    doomed = ["venv", "static", "releases", "venvs", "current"] + (
        ["app", "media"] if delete_source else [])
    if not keep_data and delete_source:
        doomed.append("data")
    for sub in doomed:
        if (home / sub).is_symlink():
            (home / sub).unlink()
        shutil.rmtree(home / sub, ignore_errors=True)
    with contextlib.suppress(OSError):
        home.rmdir()  # empty once nothing was kept
        home.parent.rmdir()  # /srv/pws, once its last site is gone
    if home.is_dir():  # the site user is about to go: hand what is kept to root, by fd
        skipped = safefs.seal_tree(home, 0, 0, dir_mode=0o750, file_mode=0o640,
                                   made_by=runas.ids(f"pws-{name}")[0])
        for path in skipped[:10]:
            env.ui.warn(f"left as it was (a hard link or a special file): {path}")
