"""pws tls NAME [status|on|off|renew [--force]|self-signed|local-ca], and certbot's deploy hook
`pws tls-deployed` (the lineage comes in RENEWED_LINEAGE)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from .. import site as sitemod, validate
from ..environment import Env
from ..errors import InvalidInput
from ..locks import site_lock
from ..tls import MODES
from ..tls.manager import TlsSites
from ..tls.state import TlsPaths

ACTIONS = ("status", "on", "off", "renew", "self-signed", "local-ca")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="site name")
    parser.add_argument("action", nargs="?", default="status", choices=ACTIONS,
                        help="status (default); on (the mode of /etc/pws/pws.toml [tls], "
                             "else acme); off; renew; self-signed; local-ca")
    parser.add_argument("--force", action="store_true",
                        help="with renew: renew now even if not due")


def run(args: argparse.Namespace, env: Env) -> int:
    name = validate.site_name(args.name)
    if args.force and args.action != "renew":
        raise InvalidInput("--force goes with renew only.", f"run `pws tls {name} renew --force`.")
    if args.action == "status":
        return _status(env, sitemod.load(env.paths, name))
    env.require_root(f"pws tls {args.action}")
    sitemod.load(env.paths, name)  # a clear error before taking the lock
    with site_lock(env.paths, name):
        site = sitemod.load(env.paths, name)
        sites = TlsSites(env)
        if args.action == "off":
            sites.turn_off(site)
            env.ui.say(f"Site '{name}' is served over plain HTTP: http://{site.domains[0]}/")
        elif args.action == "renew":
            sites.renew(site, args.force)
        else:
            mode = sites.cfg.mode_for_on() if args.action == "on" else args.action
            enable(env, sites, site, mode)
    return 0


def enable(env: Env, sites: TlsSites, site, mode: str) -> None:
    sites.turn_on(site, mode)
    env.ui.say(f"Site '{site.name}' is live: https://{site.domains[0]}/ ({mode} certificate)")
    if mode == "local-ca":
        env.ui.say(f"  the local CA's root, for the clients to trust: {TlsPaths(env.paths).ca_public}")


def enable_after_mksite(env: Env, site, requested: str) -> None:
    """mksite --tls [MODE]: the site is live on HTTP already; a refusal leaves it so."""
    sites = TlsSites(env)
    mode = sites.cfg.mode_for_on() if requested == "on" else requested
    with site_lock(env.paths, site.name):
        enable(env, sites, sitemod.load(env.paths, site.name), mode)


def _status(env: Env, site) -> int:
    print(f"site:      {site.name} ({' '.join(site.domains)})")
    for line in TlsSites(env).describe(site):
        print(line)
    return 0


def run_deployed(args: argparse.Namespace, env: Env) -> int:
    env.require_root("pws tls-deployed")
    lineage = os.environ.get("RENEWED_LINEAGE", "")
    if not lineage:
        raise InvalidInput("RENEWED_LINEAGE is not set: this is certbot's deploy hook.",
                           "let certbot run it, or use `pws tls NAME renew`.")
    TlsSites(env).deployed(validate.site_name(Path(lineage).name))
    return 0


def mode_choices() -> tuple[str, ...]:
    return ("on", *MODES)
