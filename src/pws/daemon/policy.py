"""What an ordinary caller may ask pwsd for: checked on the parsed arguments, against the
caller's grant and the owner recorded in each site.toml, before the command runs."""
from __future__ import annotations

import argparse
from dataclasses import dataclass

from .. import grants, site as sitemod
from ..errors import PwsError, SiteNotFound
from ..grants import Grant, NotGranted
from ..paths import Paths

# `pws COMMAND` an ordinary user may run, on their own sites. Left out: what acts on every
# site or on the system (apply, health, alerts, nginx, tls, grant...), and `run` (a terminal).
USER_COMMANDS = frozenset({"list", "status", "logs", "start", "stop", "restart", "reload",
                           "deploy", "releases", "rollback", "env", "audit"})
# Remote URLs only: a local path or file:// would be read by a site user, who may read
# other users' world-readable projects. ssh:// needs keys the site user does not have.
GIT_SCHEMES = ("https://", "http://", "git://")


@dataclass(frozen=True)
class Caller:
    uid: int
    gid: int
    pid: int
    user: str


def authorize(paths: Paths, caller: Caller, prog: str, args: argparse.Namespace,
              has_source: bool) -> Grant:
    """Raise NotGranted (or SiteNotFound) unless the grant allows this request."""
    grant = grants.require(paths, caller.user)
    _check_source(args, has_source)
    if prog == "mksite":
        check_mksite(paths, grant, args)
    elif prog == "rmsite":
        own_site(paths, caller.user, args.name)
    else:
        _check_pws(paths, caller, args)
    return grant


def _check_source(args: argparse.Namespace, has_source: bool) -> None:
    named = getattr(args, "source", None) is not None
    if named != has_source:
        raise NotGranted("--from must come with the project's content, sent by pws itself.",
                         "run `pws`/`mksite` (not a hand-made request) with --from PATH.")


def _check_pws(paths: Paths, caller: Caller, args: argparse.Namespace) -> None:
    command = getattr(args, "command", "")
    if command not in USER_COMMANDS:
        raise NotGranted(f"`pws {command}` is for the admin.",
                         f"ask root; you may run: {', '.join(sorted(USER_COMMANDS))}.")
    if getattr(args, "all", False):
        raise NotGranted("--all acts on every site, not only yours.", "name one of your sites.")
    if getattr(args, "git", None):
        check_git_url(args.git)
    if command == "env" and args.action == "set" and any("=" not in i for i in args.items):
        raise NotGranted("A bare KEY reads its value from a terminal pwsd does not have.",
                         "give KEY=VALUE.")
    name = getattr(args, "name", None)
    if name is not None or command not in ("list", "audit"):
        own_site(paths, caller.user, name or "")


def own_site(paths: Paths, user: str, name: str) -> sitemod.Site:
    """The site, if it is the user's; one message for "absent" and "someone else's", so a
    user learns nothing of other users' sites."""
    try:
        site = sitemod.load(paths, name)
    except PwsError:  # absent, or a name that is not a site name: the same answer
        site = None
    if site is None or site.owner != user:
        raise SiteNotFound(f"You have no site named {name[:40]!r}.",
                           "see yours with `pws list`.")
    return site


def check_git_url(url: str) -> None:
    if not url.startswith(GIT_SCHEMES):
        raise NotGranted(f"--git {url[:80]!r}: only remote repositories (https://, git://).",
                         "push to your site's repository (`pws git NAME`), or deploy --from PATH.")


def check_mksite(paths: Paths, grant: Grant, args: argparse.Namespace) -> None:
    if args.owner:
        raise NotGranted("--owner is for the admin.", "leave it out: the site is yours.")
    if grant.formulae and args.formula not in grant.formulae:
        raise NotGranted(f"Your grant does not include the formula {args.formula!r}.",
                         f"use one of: {', '.join(grant.formulae)}.")
    if args.db and args.db not in grant.databases:
        raise NotGranted(f"Your grant does not include {args.db} databases.",
                         f"use --db {' or --db '.join(grant.databases)}.")
    if not args.domain:
        raise NotGranted("Give the site's domain.",
                         f"add --domain NAME matching {', '.join(grant.domains)}.")
    for domain in args.domain:
        if not grant.allows_domain(domain):
            raise NotGranted(f"{domain[:100]} is outside the domains granted to you.",
                             f"use a name matching {', '.join(grant.domains)}.")
    owned = [s for s in sitemod.load_valid(paths)[0] if s.owner == grant.user]
    if len(owned) >= grant.max_sites:
        raise NotGranted(f"You own {len(owned)} site(s), your grant allows {grant.max_sites}.",
                         "remove one with rmsite, or ask the admin for more.")
    for option in ("tls",):
        if getattr(args, option, None):
            raise NotGranted(f"--{option} is for the admin.", "leave it out.")
