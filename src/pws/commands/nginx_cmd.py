"""pws nginx status | diff: what pws changed in /etc/nginx, and what the admin changed since."""
from __future__ import annotations

import argparse
import os

from ..environment import Env
from ..errors import NeedsRoot, PwsError
from ..nginx import compare
from ..nginx.state import NginxState


def _state(env: Env) -> NginxState:
    if os.geteuid() != 0:  # the snapshot is root's alone: it may hold TLS keys
        raise NeedsRoot("pws nginx reads pws's private snapshot of /etc/nginx.", "run it with sudo.")
    state = NginxState(env.paths)
    if not state.has_base:
        raise PwsError(f"No snapshot of {env.paths.nginx} yet (phase: {state.phase or 'none'}).",
                       "it is taken when pws is configured with a valid nginx config: "
                       "fix `nginx -t`, then run `dpkg-reconfigure pws`.")
    return state


def run_status(args: argparse.Namespace, env: Env) -> int:
    state = _state(env)
    rows = compare.changed(state)
    print(f"nginx integration: {state.phase}; snapshot of {env.paths.nginx} in {state.dir}")
    if not rows:
        print("No differences from the snapshot.")
    for row in rows:
        print(f"  {row.path}: {row.verdict}; {row.at_purge}")
    return 0


def run_diff(args: argparse.Namespace, env: Env) -> int:
    print(compare.unified_diff(_state(env)), end="")
    return 0
