"""The Python half of the maintainer scripts: `python3 -m pws.maint postinst|prerm ARGS`.

Idempotent. A broken nginx config never fails the apt run: nginx integration is recorded as
pending (phase `deferred`) and mksite explains what to fix.
"""
from __future__ import annotations

import os
import sys

from . import formulae, python_change, site as sitemod
from .commands import grant_cmd
from .environment import Env
from .errors import PwsError
from .locks import site_lock
from .runner import succeeds

STATE_DIRS = (("etc/pws/sites", 0o755), ("etc/pws/gunicorn", 0o755), ("etc/pws/secrets", 0o711),
              ("var/lib/pws", 0o755), ("var/lib/pws/nginx", 0o700), ("var/cache/pws/pip", 0o755))


def _ensure_dirs(env: Env) -> None:
    for rel, mode in STATE_DIRS:
        path = env.paths.root / rel
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(mode)


# Left by a purge that was interrupted or failed (maintscripts/nginx-restore.sh): stale
# once pws is configured again, and prepurge.tar must never roll back a later purge.
PURGE_LEFTOVERS = ("prepurge.tar", "prepurge.nginx-t", "restore.done")


def _snapshot(env: Env) -> bool:
    state = env.web.state
    state.make_private()  # it holds a copy of /etc/nginx; older versions left it 0755/0644
    for name in PURGE_LEFTOVERS:
        (state.dir / name).unlink(missing_ok=True)
    if state.has_base:
        return True
    if not env.paths.nginx.joinpath("nginx.conf").exists():
        env.ui.say("pws: nginx is not configured yet; its snapshot is deferred to the first mksite.")
        state.set_phase("deferred")
        return False
    if not succeeds(["nginx", "-t", "-q"]):
        env.ui.warn("`nginx -t` fails on your configuration, so pws has not touched /etc/nginx. "
                    "Fix it, then run `dpkg-reconfigure pws`.")
        state.set_phase("deferred")
        return False
    state.ensure_snapshot()
    env.ui.say(f"pws: took a snapshot of {env.paths.nginx} in {state.dir}; "
               "`apt purge pws` gives this configuration back.")
    return True


def postinst(env: Env, action: str, old_version: str = "") -> None:
    if action == "triggered":
        triggered(env, *old_version.split())
        return
    if action != "configure":
        return
    _ensure_dirs(env)
    grant_cmd.ensure_group()  # pwsd.socket's group, before the socket is started
    if not _snapshot(env):
        return
    env.web.state.set_phase("applied")
    names = sitemod.names(env.paths)
    for name in names:
        env.web.enable(name)
        env.services.install(name)
    # After an upgrade every site; otherwise those whose vhost is gone (an interrupted purge).
    stale = names if old_version else [n for n in names if not env.paths.vhost(n).exists()]
    if stale:
        env.ui.say(f"pws: re-rendering pws's files for {len(stale)} site(s)")
        _rerender(env, stale)
    if names:
        # Always: an unchanged vhost is left alone, and the links may have been enabled
        # by this run or by an earlier one that was killed before it reloaded nginx.
        env.web.reload_if_valid()
        # A configure also stands for the python3 trigger pending on pws (deb-triggers(5)).
        python_change.rebuild_stale(env, names)


def triggered(env: Env, *triggers: str) -> None:
    """python3 was installed, upgraded or removed (/usr/bin/python3, debian/pws.triggers):
    sites whose venv is for another Python get one for this one. Never fails the apt run."""
    python_change.rebuild_stale(env, sitemod.names(env.paths))


def _rerender(env: Env, names: list[str]) -> None:
    """pws's own files only, never a site's code or data (no pip, no migrations): an upgrade
    of pws must not change what a site runs. One broken site fails neither the upgrade nor
    the others."""
    for name in names:
        try:
            with site_lock(env.paths, name):
                site = sitemod.load(env.paths, name)
                done = env.deployer.rerender(site, formulae.load(site.formula, env.paths))
            env.ui.say(f"pws: site {name}: {done}")
        # Per site, whatever a damaged site holds (a missing dir, a hand-edited file): the
        # upgrade itself and the other sites go on.
        except (PwsError, OSError, LookupError, ValueError) as exc:
            env.ui.warn(f"site {name} was not re-rendered: {exc} "
                        f"(fix it, then run `pws apply {name}`)")


def prerm(env: Env, action: str, *args: str) -> None:
    if action not in ("remove", "deconfigure"):
        return
    names = sitemod.names(env.paths)
    if not names:
        return
    for name in names:
        env.services.uninstall(name)
    try:
        kept = _disable_vhosts(env, names)
    except (PwsError, ValueError) as exc:  # a tampered state dir must not block the removal
        env.ui.warn(f"the record of pws's nginx changes in {env.paths.nginx_state} is damaged "
                    f"({exc}): pws's vhosts were left as they are, and `apt purge pws` will "
                    "leave /etc/nginx as it is.")
        return
    env.ui.say(f"pws: {'stopped' if kept else 'disabled'} {len(names)} site(s); their "
               f"definitions stay in {env.paths.sites_dir} and come back when pws is installed again.")


def _disable_vhosts(env: Env, names: list[str]) -> bool:
    """Disable the vhosts and reload; True if they had to stay enabled."""
    valid_before = succeeds(["nginx", "-t", "-q"])
    for name in names:
        env.web.disable(name)
    needed = valid_before and not succeeds(["nginx", "-t", "-q"])
    if needed:
        # The admin's own config uses a pws vhost (e.g. proxy_pass to its upstream): keep
        # nginx restartable rather than take the vhosts away.
        for name in names:
            env.web.enable(name)
        env.ui.warn("without pws's vhosts `nginx -t` fails (does your configuration use an "
                    "upstream pws-NAME?), so they stay enabled; their apps are stopped.")
    env.web.reload_if_valid()
    return needed


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("postinst", "prerm"):
        print("usage: python3 -m pws.maint postinst|prerm ACTION [ARGS]", file=sys.stderr)
        return 2
    os.umask(0o022)  # venvs, units and vhosts must be readable whatever umask dpkg ran with
    env = Env.create(assume_yes=True)
    try:
        {"postinst": postinst, "prerm": prerm}[argv[0]](env, *argv[1:])
    except PwsError as exc:
        print(f"pws: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
