"""mksite FORMULA NAME: make a site live, all or nothing."""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from .. import boot, databases, formulae, grants, pending, safefs, site as sitemod, users, validate
from ..releases import Releases
from ..defaults import site_defaults
from ..environment import Env
from ..errors import InvalidInput
from ..locks import site_lock
from ..site import Site
from ..transaction import Transaction
from ..tls import config as tls_config
from . import tls_cmd

# Never copied from --from: version control, bytecode, and the project's own venvs.
COPY_IGNORE = frozenset({".git", "__pycache__", "*.pyc", ".venv", "venv"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("formula", help="wsgi, asgi (core), or django, flask, pyramid "
                                        "(framework packages)")
    parser.add_argument("name", help="site name: lowercase letters, digits, hyphens")
    parser.add_argument("--app", help="the app: MODULE:CALLABLE or MODULE:FACTORY() (WSGI; ASGI with "
                             "the asgi formula)")
    parser.add_argument("--from", dest="source", metavar="PATH",
                        help="copy this existing project into the site (default: a new project)")
    parser.add_argument("--requirement", action="append", default=[], metavar="SPEC",
                        help="a pip requirement to install into the site's venv (repeatable)")
    parser.add_argument("--domain", action="append", default=[], metavar="D",
                        help="a domain the site answers to (repeatable; default NAME.localhost)")
    parser.add_argument("--static", action="append", default=[], metavar="URL=DIR",
                        help="serve the project's DIR at URL with nginx (repeatable)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default 2)")
    parser.add_argument("--timeout", type=int,
                        help="seconds before a stuck request's worker is restarted (default 30)")
    parser.add_argument("--idle", type=int, metavar="MINUTES",
                        help="stop gunicorn after this many idle minutes; the next request "
                             "starts it (default 0: never)")
    parser.add_argument("--db", choices=databases.KINDS,
                        help="the site's database (default: sqlite for django, none for wsgi)")
    parser.add_argument("--tls", nargs="?", const="on", choices=tls_cmd.mode_choices(),
                        help="serve it over HTTPS once live: on (the mode of pws.toml [tls], "
                             "else acme), acme, self-signed or local-ca (see pws tls)")
    parser.add_argument("--setup-command", action="append", default=[], metavar="CMD",
                        help="run once as the site user, on the first release (e.g. "
                             "'flask init-db'); repeatable")
    parser.add_argument("--release-command", action="append", default=[], metavar="CMD",
                        help="run as the site user on every release being built; repeatable")
    parser.add_argument("--owner", default="", metavar="USER",
                        help="the ordinary user whose site it is (their grant's limits apply; "
                             "pwsd sets it for a user's own mksite)")
    parser.add_argument("--yes", "-y", action="store_true", help="ask nothing; take the defaults")


def run(args: argparse.Namespace, env: Env) -> int:
    env.require_root("mksite")
    name = validate.site_name(args.name)
    formula = formulae.load(args.formula, env.paths)
    source = _source(args)
    site = _gather(args, env, name, formula, source)
    tls_wanted = args.tls or tls_default(env)  # a broken [tls] is refused before anything is made
    with site_lock(env.paths, name):
        _check_free(env, site)
        database = databases.for_site(site, env.paths)
        if database:
            database.check(site)
        pending.begin(env.paths, site)
        tx = Transaction()
        try:
            with tx:
                _create(env, site, formula, source, args, tx)
        finally:
            if not tx.failed_undos:  # live, or all undone; else rmsite NAME finishes the job
                pending.end(env.paths, site.name)
    url = f"http://{site.domains[0]}/"
    env.ui.say(f"Site '{site.name}' is live: {url}")
    if tls_wanted:  # after the site is live: a refused certificate leaves it on HTTP
        tls_cmd.enable_after_mksite(env, site, tls_wanted)
    env.ui.say(f"  definition: {env.paths.site_file(site.name)}   logs: pws logs {site.name}")
    return 0


def tls_default(env: Env) -> str:
    """New sites get TLS without --tls when pws.toml [tls] mode says so."""
    mode = tls_config.load(env.paths).mode
    return "" if mode == "off" else mode


def _source(args: argparse.Namespace) -> Path | None:
    if args.source is None:
        return None
    path = Path(args.source).expanduser().resolve()
    if not path.is_dir():
        raise InvalidInput(f"--from {args.source}: no such directory.",
                           "give the path of the project's top directory.")
    return path


def _gather(args, env: Env, name: str, formula, source: Path | None) -> Site:
    detected = formula.detect(source, args) if source else {}
    app = args.app or detected.get("app", "")
    if not app and formula.name == "wsgi" and source:
        app = env.ui.ask("WSGI app (MODULE:CALLABLE)", "app:app")
    domains = args.domain or [env.ui.ask("Domain", f"{name}.localhost")]
    static = dict(validate.static_mapping(s) for s in args.static)
    static.update(detected.get("static", {}))
    tunables = site_defaults(env.paths)
    tunables.update({k: getattr(args, k) for k in ("workers", "timeout", "idle")
                     if getattr(args, k) is not None})
    options = dict(detected.get("options", {}))
    if getattr(args, "asgi", False):  # Django --asgi: set before the venv is keyed and built
        options["interface"] = "asgi"
    site = Site(name=name, formula=formula.name, app=app, domains=domains,
                requirements=list(args.requirement), static=static, source=str(source or ""),
                options=options, database=args.db or formula.default_db,
                setup_commands=list(args.setup_command),
                release_commands=list(args.release_command), owner=args.owner,
                limits=_owner_limits(env, args.owner), **tunables)
    validate.domains(site.domains, name)  # refused before anything is made, app or not
    validate.requirements(site.requirements)
    validate.commands(site.setup_commands, "--setup-command")
    validate.commands(site.release_commands, "--release-command")
    return site.check() if site.app or not source else site


def _owner_limits(env: Env, owner: str) -> dict[str, str]:
    if not owner:
        return {}
    if not users.exists(validate.user_name(owner)):
        raise InvalidInput(f"--owner {owner}: there is no such user.", "give an existing login.")
    grant = grants.load(env.paths, owner)
    return grant.limits() if grant else {}


def _check_free(env: Env, site: Site) -> None:
    paths = env.paths
    if paths.pending_file(site.name).exists():
        raise InvalidInput(f"An interrupted mksite left a half-made site '{site.name}'.",
                           f"remove what is left with `rmsite {site.name}`, then run mksite again.")
    if paths.site_file(site.name).exists():
        raise InvalidInput(f"A site named '{site.name}' exists already.",
                           f"choose another name, or remove it first with `rmsite {site.name}`.")
    leftovers = [p for p in (paths.site_home(site.name), paths.vhost(site.name),
                             paths.vhost_link(site.name), paths.gunicorn_conf(site.name),
                             paths.secrets_dir(site.name))
                 if p.exists() or p.is_symlink()]
    if users.exists(site.user):
        leftovers.append(Path(f"user {site.user}"))
    if users.group_exists(site.user):
        leftovers.append(Path(f"group {site.user}"))
    if leftovers:
        raise InvalidInput(f"'{site.name}' is not defined but these exist: "
                           f"{', '.join(map(str, leftovers))}.",
                           "remove them, or choose another name.")
    _check_domains(env, site)


def _check_domains(env: Env, site: Site) -> None:
    others, broken = sitemod.load_valid(env.paths)
    for other in others:
        clash = set(other.domains) & set(site.domains)
        if clash:
            raise InvalidInput(f"{', '.join(sorted(clash))} is served by the site '{other.name}'.",
                               "choose another --domain.")
    for name, problem in broken.items():
        env.ui.warn(f"the definition of site {sitemod.shown_name(name)} is broken ({problem}); "
                    "its domains are checked in its nginx vhost instead.")
    # pws's own vhosts are left out, except those of broken sites: their names stay taken.
    taken = env.web.taken_domains(also_pws_sites=set(broken))
    for domain in site.domains:
        if domain in taken:
            raise InvalidInput(f"{domain} is already served by your nginx config ({taken[domain]}).",
                               "choose another --domain, or remove it from that file.")


def _create(env: Env, site: Site, formula, source: Path | None, args, tx: Transaction) -> None:
    """Each undo is registered before its step: _check_free proved none of it existed."""
    paths, ui = env.paths, env.ui
    home = paths.site_home(site.name)
    tx.on_rollback(f"remove user {site.user}", lambda: users.remove(site.user))
    with ui.step(f"creating the user {site.user}"):
        users.create(site.user, home)
    tx.on_rollback(f"remove {home}", lambda: shutil.rmtree(home, ignore_errors=True))
    tx.on_rollback("remove secrets", lambda: shutil.rmtree(paths.secrets_dir(site.name), ignore_errors=True))
    tx.on_rollback("remove the pip cache", lambda: shutil.rmtree(paths.site_pip_cache(site.name),
                                                                 ignore_errors=True))
    env.deployer.make_site_dirs(site)
    database = databases.for_site(site, paths)
    if database:
        with ui.step(f"creating the {database.describe(site)}"):
            database.create(site, tx)
    tx.on_rollback("remove the site definition",
                   lambda: paths.site_file(site.name).unlink(missing_ok=True))
    new_project = None if source else (lambda ctx: formula.new_project(ctx, args))
    release = env.deployer.new_release(site, tx, str(source or "new project"))
    env.deployer.build_release(site, formula, tx, release, fill=lambda r: _fill(ui, source, r),
                               new_project=new_project)
    Releases(paths, site.name).switch(release)  # nothing serves yet: release 1 is live at once
    tx.on_rollback("stop the site's service", lambda: env.services.uninstall(site.name))
    env.deployer.publish(site, formula, tx)
    _start_and_wait(env, site, formula, formulae.Context(site, paths, ui, tx, release))
    from .process_cmd import sync
    from ..services import process_units
    tx.on_rollback("remove the site's processes",
                   lambda: process_units.manager(paths).remove(site.name))
    started = sync(env, site, restart=False)
    if started:
        ui.say(f"  processes and timers: {', '.join(started)}")


def _fill(ui, source: Path | None, release) -> None:
    """Release 1's code: a copy of --from (links kept as links, never followed), or nothing
    yet (the formula's new project is made in the build)."""
    if source is None:
        safefs.make_dir(release.app, 0o750, 0, 0)
        return
    with ui.step(f"copying {source}"):
        skipped = safefs.copy_tree(source, release.app, keep_links=True, ignore=COPY_IGNORE)
    for path in skipped[:10]:
        ui.warn(f"not copied (not a file, directory or link): {path}")


def _start_and_wait(env: Env, site: Site, formula, ctx) -> None:
    """Start gunicorn; every path the formula knows must answer below 500 through nginx (a 404
    is an answer; a 500 on the admin's login page is a broken site, not a live one). An app
    that dies at start is reported at once, with its own error: the site is removed after, so
    `pws logs` could not show it."""
    paths = formula.ready_paths(ctx)
    with env.ui.step(f"starting gunicorn; waiting for {', '.join(paths)} to answer through nginx"):
        boot.start_and_wait(env.services, site, paths, lambda: env.services.start(site.name),
                            after="then run mksite again (the site was removed)")
