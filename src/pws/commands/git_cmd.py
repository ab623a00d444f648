"""pws git NAME [--branch B]: the site owner's own bare repository, ~/pws/NAME.git, whose
pre-receive hook deploys a push to the branch (`pws deploy NAME` through pwsd, from a
`git archive` of the pushed commit). A refused release refuses the push, with the reason.

Run by the owner, with their own rights (nothing of root's is touched): they push to it over
their own SSH login, `git push USER@HOST:pws/NAME.git main`.
"""
from __future__ import annotations

import argparse
import os
import subprocess
from pathlib import Path

from .. import validate
from ..environment import Env
from ..errors import CommandFailed, InvalidInput

_REF = validate._re(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,99}")
HOOK = """#!/bin/sh
# Made by `pws git {name}`: a push to {branch} is deployed; a refused release refuses the push.
set -eu
zero=0000000000000000000000000000000000000000
while read -r old new ref; do
    [ "$ref" = "refs/heads/{branch}" ] || continue
    if [ "$new" = "$zero" ]; then
        echo "pws: {branch} deploys the site {name}; it cannot be deleted." >&2
        exit 1
    fi
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    git archive --format=tar "$new" | tar -x -C "$work"
    echo "pws: deploying $(echo "$new" | cut -c1-12) to {name}"
    if ! /usr/bin/pws deploy {name} --from "$work"; then
        echo "pws: the release was refused (above); the push is refused too." >&2
        exit 1
    fi
done
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="your site")
    parser.add_argument("--branch", default="main", help="the branch that deploys (default main)")
    parser.set_defaults(local=True)


def repo_path(name: str) -> Path:
    return Path.home() / "pws" / f"{name}.git"


def run(args: argparse.Namespace, env: Env) -> int:
    if os.geteuid() == 0:
        raise InvalidInput("pws git makes a repository of the site's owner, in their home.",
                           "run it as the owner (root deploys with pws deploy --from/--git).")
    name = validate.site_name(args.name)
    if not _REF.fullmatch(args.branch) or ".." in args.branch:
        raise InvalidInput(f"--branch {args.branch!r} is not a branch name.", "e.g. main.")
    repo = repo_path(name)
    if not (repo / "HEAD").exists():
        repo.parent.mkdir(mode=0o700, exist_ok=True)
        _git("init", "--quiet", "--bare", f"--initial-branch={args.branch}", str(repo))
    hook = repo / "hooks" / "pre-receive"
    hook.write_text(HOOK.format(name=name, branch=args.branch))
    hook.chmod(0o755)
    env.ui.say(f"Push to deploy: git remote add pws {os.environ.get('USER', 'you')}@HOST:"
               f"pws/{name}.git  (on this machine: {repo}), then git push pws {args.branch}")
    return 0


def _git(*argv: str) -> None:
    done = subprocess.run(["git", *argv], capture_output=True, text=True)
    if done.returncode != 0:
        raise CommandFailed(f"git {argv[0]} failed: {done.stderr.strip()}", "check git.")
