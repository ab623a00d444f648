"""pws grant USER ..., pws grants, pws revoke USER: who may run sites without root."""
from __future__ import annotations

import argparse
import grp
import pwd

from .. import databases, grants, site as sitemod, users
from ..environment import Env
from ..errors import InvalidInput
from ..locks import site_lock
from ..runner import run
from . import process_cmd


def add_grant_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("user", help="an existing login user")
    parser.add_argument("--domains", action="append", required=True, metavar="PATTERN",
                        help="a domain the user may claim, or *.DOMAIN for every name under it "
                             "(repeatable)")
    parser.add_argument("--max-sites", type=int, default=3, metavar="N",
                        help="sites the user may own at once (default 3)")
    parser.add_argument("--memory", default="", metavar="SIZE",
                        help="MemoryMax of each site, e.g. 512M (default: none)")
    parser.add_argument("--cpu", default="", metavar="PERCENT",
                        help="CPUQuota of each site, e.g. 50%% (default: none)")
    parser.add_argument("--tasks", default="", metavar="N",
                        help="TasksMax of each site (default: systemd's)")
    parser.add_argument("--formula", action="append", default=[], dest="formulae",
                        metavar="NAME", help="a formula the user may use (repeatable; "
                                             "default: all)")
    parser.add_argument("--db", action="append", default=[], dest="databases",
                        choices=[k for k in databases.KINDS if k], metavar="KIND",
                        help="a database kind the user may use (repeatable; default: sqlite)")


def add_revoke_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("user", help="the user whose grant goes")


def run_grant(args: argparse.Namespace, env: Env) -> int:
    env.require_root("pws grant")
    try:
        pwd.getpwnam(args.user)
    except KeyError:
        raise InvalidInput(f"There is no user {args.user!r}.",
                           "create the login first (adduser), then grant it.") from None
    if args.user.startswith("pws-") or args.user == "root":
        raise InvalidInput(f"{args.user} is not an ordinary user.", "grant a person's login.")
    grant = grants.Grant(user=args.user, domains=args.domains, max_sites=args.max_sites,
                         memory=args.memory, cpu=args.cpu, tasks=args.tasks,
                         formulae=args.formulae, databases=args.databases or ["sqlite"])
    grants.save(env.paths, grant.check())
    ensure_group()
    run(["adduser", "--quiet", args.user, grants.GROUP],
        problem=f"Could not add {args.user} to {grants.GROUP}.")
    env.ui.say(f"{args.user} may now run up to {grant.max_sites} site(s) on "
               f"{', '.join(grant.domains)} (a new login session picks up the group "
               f"{grants.GROUP}).")
    changed = _limits_to_sites(env, grant)
    if changed:
        env.ui.say(f"The grant's limits now apply to {', '.join(changed)} (running, and each "
                   "process and timer).")
    return 0


def _limits_to_sites(env: Env, grant: grants.Grant) -> list[str]:
    """A changed grant counts at once for the sites the user already has: their site.toml,
    their service's drop-in (systemd re-reads it at once),
    and their processes' and timers' units. The names of the sites changed."""
    changed = []
    for owned in sitemod.load_valid(env.paths)[0]:
        if owned.owner != grant.user or owned.limits == grant.limits():
            continue
        with site_lock(env.paths, owned.name):
            site = sitemod.load(env.paths, owned.name)
            site.limits = grant.limits()
            sitemod.save(env.paths, site)
            env.services.set_limits(site.name, site.limits)
            process_cmd.sync(env, site, restart=False)
        changed.append(site.name)
    return changed


def ensure_group() -> None:
    if users.group_exists(grants.GROUP):
        return
    run(["addgroup", "--system", "--quiet", grants.GROUP],
        problem=f"Could not create the group {grants.GROUP}.")


def run_grants(args: argparse.Namespace, env: Env) -> int:
    rows = [("USER", "SITES", "DOMAINS", "LIMITS", "FORMULAE", "DATABASES")]
    sites, _ = sitemod.load_valid(env.paths)
    for g in grants.load_all(env.paths):
        owned = sum(1 for s in sites if s.owner == g.user)
        limits = ",".join(f"{k}={v}" for k, v in g.limits().items()) or "-"
        rows.append((g.user, f"{owned}/{g.max_sites}", ",".join(g.domains), limits,
                     ",".join(g.formulae) or "all", ",".join(g.databases)))
    if len(rows) == 1:
        env.ui.say("No grants. Give one with: pws grant USER --domains PATTERN")
        return 0
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return 0


def run_revoke(args: argparse.Namespace, env: Env) -> int:
    env.require_root("pws revoke")
    if not grants.remove(env.paths, args.user):
        raise InvalidInput(f"{args.user} has no grant.", "see `pws grants`.")
    _leave_group(args.user)
    owned = [s.name for s in sitemod.load_valid(env.paths)[0] if s.owner == args.user]
    env.ui.say(f"{args.user} may no longer use pwsd."
               + (f" Their sites stay up, now changed by root only: {', '.join(owned)}."
                  if owned else ""))
    return 0


def _leave_group(user: str) -> None:
    """Out of pws-users, so the socket refuses the user. Not a member any more (the admin
    removed it by hand) is fine. gpasswd, not deluser: trixie's deluser refuses the group
    name pws-users ("invalid characters in input string")."""
    try:
        members = grp.getgrnam(grants.GROUP).gr_mem
    except KeyError:
        return
    if user in members:
        run(["gpasswd", "--delete", user, grants.GROUP],
            problem=f"Could not remove {user} from the group {grants.GROUP}.")
