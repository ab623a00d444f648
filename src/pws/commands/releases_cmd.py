"""pws releases NAME, pws rollback NAME [ID] [--restore-db]."""
from __future__ import annotations

import argparse

from .. import databases, formulae, site as sitemod
from ..environment import Env
from ..errors import InvalidInput
from ..locks import site_lock
from ..releases import Release, Releases, parse_id
from ..rollout import Rollout
from ..ui import printable


def run_list(args: argparse.Namespace, env: Env) -> int:
    site = sitemod.load(env.paths, args.name)
    releases = Releases(env.paths, site.name)
    live = releases.current_id()
    rows = [("", "ID", "CREATED", "BY", "STATE", "SOURCE")]
    for release in releases.all():
        state = "live" if release.id == live else release.state
        rows.append(("*" if release.id == live else "", str(release.id),
                     release.meta.get("created", "?"), release.meta.get("by", "?"), state,
                     printable(release.meta.get("source", ""))))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[5])
    for release in releases.all():
        if release.state == "failed":
            print(f"release {release.id} refused: {printable(release.meta.get('reason', ''))}")
    return 0


def add_rollback_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("id", nargs="?", help="the release to go back to (default: the one "
                        "before the live one)")
    parser.add_argument("--restore-db", action="store_true",
                        help="also put back the database copy taken before the later "
                             "release(s) migrated it (writes since then are lost)")
    parser.add_argument("--yes", "-y", action="store_true", help="ask nothing")


def run_rollback(args: argparse.Namespace, env: Env) -> int:
    env.require_root("pws rollback")
    site = sitemod.load(env.paths, args.name)
    formula = formulae.load(site.formula, env.paths)
    with site_lock(env.paths, site.name):
        releases = Releases(env.paths, site.name)
        live = releases.live()
        target = releases.get(parse_id(args.id)) if args.id else None
        snapshot = _snapshot_to_restore(releases, live, target) if args.restore_db else ""
        if snapshot and not args.yes and not env.ui.confirm(
                f"Put back the database copy {snapshot}? Writes since it was taken are lost.",
                default=False, flag="--yes"):
            raise InvalidInput("Nothing was changed: restoring the database loses the writes "
                               "made since its copy.", "answer yes, or add --yes.")
        target = Rollout(env).rollback(site, formula, target)
        if snapshot:
            with env.ui.step(f"restoring the database from {snapshot}"):
                databases.for_site(site, env.paths).restore(site, snapshot)
    env.ui.say(f"Release {target.id} of '{site.name}' is live again.")
    return 0


def _snapshot_to_restore(releases: Releases, live: Release, target: Release | None) -> str:
    """The copy taken by the first release after target that migrated (up to the live one)."""
    from ..rollout import previous
    target = target or previous(releases, live)
    for release in releases.all():
        if target.id < release.id <= live.id and release.meta.get("snapshot"):
            return release.meta["snapshot"]
    raise InvalidInput(f"No release after {target.id} changed the database: there is no copy "
                       "to put back.", "roll back without --restore-db.")
