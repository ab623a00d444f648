"""pws deploy NAME --from PATH | --git URL [--ref REF]: a new release, live once it answers."""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from .. import formulae, runas, safefs, site as sitemod
from ..environment import Env
from ..errors import InvalidInput
from ..locks import site_lock
from ..releases import Release, Releases
from ..rollout import Rollout
from ..ui import UI
from .mksite import COPY_IGNORE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="source", metavar="PATH",
                        help="the project's directory (copied; .git and venvs left out)")
    source.add_argument("--git", metavar="URL",
                        help="a git repository, cloned by the site user (never by root)")
    parser.add_argument("--ref", default="", metavar="REF",
                        help="with --git: the branch or tag to deploy (default: its HEAD)")
    parser.add_argument("--no-wait", dest="wait", action="store_false",
                        help="refuse at once when another pws command is changing this site "
                             "(default: wait for it to finish)")


def run(args: argparse.Namespace, env: Env) -> int:
    env.require_root("pws deploy")
    site = sitemod.load(env.paths, args.name)
    formula = formulae.load(site.formula, env.paths)
    if args.git:
        _check_git(args.git, args.ref)
        fill, source = (lambda r: _clone(env, site, args.git, args.ref, r)), f"git {args.git}"
    else:
        path = _source_dir(args.source)
        fill, source = (lambda r: copy_code(env.ui, path, r)), str(path)
    with site_lock(env.paths, site.name, wait=args.wait):
        site = sitemod.load(env.paths, args.name)
        release = Rollout(env).deploy(site, formula, source=source, fill=fill)
    env.ui.say(f"Release {release.id} of '{site.name}' is live (`pws rollback {site.name}` "
               "goes back).")
    return 0


def _source_dir(given: str) -> Path:
    path = Path(given).expanduser().resolve()
    if not path.is_dir():
        raise InvalidInput(f"--from {given}: no such directory.",
                           "give the path of the project's top directory.")
    return path


def copy_code(ui: UI, source: Path, release: Release) -> None:
    """The release's code: a copy of source, links kept as links (never followed)."""
    with ui.step(f"copying {source}"):
        skipped = safefs.copy_tree(source, release.app, keep_links=True, ignore=COPY_IGNORE)
    for path in skipped[:10]:
        ui.warn(f"not copied (not a file, directory or link): {path}")


def _check_git(url: str, ref: str) -> None:
    for what, value in (("URL", url), ("--ref", ref)):
        if value.startswith("-") or any(c in value for c in "\0\n\r"):
            raise InvalidInput(f"git {what} {value!r} is not usable.",
                               "give a repository URL or path, and a branch or tag name.")


def _clone(env: Env, site, url: str, ref: str, release: Release) -> None:
    """Cloned by the site user (its rights, its network view), into its own scratch dir;
    then copied into the release like --from. The commit is recorded with the release."""
    scratch = env.paths.build_dir(site.name).with_name(f"{site.name}.git")
    uid, gid = runas.ids(site.user)
    shutil.rmtree(scratch, ignore_errors=True)
    safefs.make_dir(scratch.parent, 0o755, 0, 0)
    safefs.make_dir(scratch, 0o700, uid, gid)
    # safe.directory (only read from a "global" file): a local repository of another owner
    # is fine here; whatever its config could run, runs as the site user, who runs the
    # repository's code anyway.
    safefs.write_file(scratch / "gitconfig", "[safe]\n\tdirectory = *\n", 0o644, 0, 0)
    env_vars = {**runas.base_env(env.paths.site_home(site.name)), "GIT_TERMINAL_PROMPT": "0",
                "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": str(scratch / "gitconfig")}
    git = ["git", "-c", "protocol.ext.allow=never", "-c", "core.hooksPath=/dev/null"]
    try:
        with env.ui.step(f"cloning {url}{' at ' + ref if ref else ''} as {site.user}"):
            runas.run_as(site.user, [*git, "clone", "--quiet", "--no-local", "--depth", "1",
                                     *(["--branch", ref] if ref else []), "--", url,
                                     str(scratch / "repo")], env=env_vars, cwd=scratch,
                         problem=f"git could not clone {url}:",
                         fix="check the URL and --ref; the live release still serves.")
            head = runas.run_as(site.user, [*git, "-C", str(scratch / "repo"), "rev-parse",
                                            "HEAD"], env=env_vars, cwd=scratch,
                                problem="git rev-parse failed:").stdout.strip()
            release.meta["source"] = f"git {url}{'@' + ref if ref else ''} {head[:12]}"
            copy_code(env.ui, scratch / "repo", release)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def redeploy_live(env: Env, site, formula, label: str) -> Release:
    """A new release from the live release's own code (`pws apply`, `pws config`): the venv,
    settings and release steps derived again, through the same gate and switch."""
    live = Releases(env.paths, site.name)
    live.adopt_legacy()
    current = live.live()
    return Rollout(env).deploy(site, formula, source=f"{label} (code of release {current.id})",
                               fill=lambda r: copy_code(env.ui, current.app, r))
