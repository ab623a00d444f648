"""pws audit [NAME]: the audit log (who changed what, when, and how it ended)."""
from __future__ import annotations

import argparse
import os
import sys

from .. import audit, caller, site as sitemod
from ..environment import Env
from ..paths import Paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="only this site's entries")
    parser.add_argument("-n", "--lines", type=int, default=50,
                        help="the last N entries (default 50; 0: all)")


def run(args: argparse.Namespace, env: Env) -> int:
    mine = None
    if caller.user() is not None:  # an ordinary user: their own requests and their sites'
        mine = {s.name for s in sitemod.load_valid(env.paths)[0] if s.owner == caller.user()}
    shown = [e for e in audit.entries(env.paths)
             if (not args.name or e.get("site") == args.name)
             and (mine is None or e.get("who") == caller.user() or e.get("site") in mine)]
    for e in shown[-args.lines if args.lines > 0 else 0:]:
        result = "ok" if e.get("result") == 0 else f"failed ({e.get('result')})"
        line = (f"{e.get('time', '?')}  {e.get('who', '?'):<10} {e.get('via', '?'):<5} "
                f"{' '.join(map(str, [e.get('prog', '?'), *e.get('argv', [])]))}  -> {result}")
        print(line + (f": {e['error']}" if e.get("error") else ""))
    return 0


def record(prog: str, args: argparse.Namespace, argv: list[str], *, who: str, uid: int,
           via: str, code: int, error: str) -> None:
    """One entry for every command that may change something (never fails the command)."""
    if os.geteuid() != 0:  # a user's local command (pws git): nothing of root's changed
        return
    command = prog if prog != "pws" else getattr(args, "command", "?")
    if command in audit.READ_ONLY or (command == "env" and not getattr(args, "action", None)):
        return
    try:
        audit.record(Paths.from_env(), who=who, uid=uid, via=via, prog=prog, command=command,
                     argv=list(argv), site=str(getattr(args, "name", "") or ""), result=code,
                     error=error)
    except OSError as exc:
        print(f"{prog}: warning: the audit log was not written: {exc}", file=sys.stderr)
