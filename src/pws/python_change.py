"""A new system Python under the sites (a Debian release upgrade: 12's 3.11 becomes 13's 3.13).

A site's venv is made for one Python: its packages live in lib/pythonX.Y, its compiled
extensions are built for that ABI. When the system's python3 moves to another X.Y, each such
site gets a new release of its live code with a venv for the new Python, through the same
gate as a deploy: the old release keeps serving (on the old interpreter, which Debian keeps
installed until `apt autoremove`) until the new one answers. The python3 package's dpkg
trigger calls `rebuild_stale` (maintscripts/pws.postinst); `pws rebuild` is the same by hand.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from . import formulae, safefs, site as sitemod
from .commands import alerts
from .environment import Env
from .errors import PwsError
from .locks import site_lock
from .releases import Releases

# venv writes "version = 3.11.2", uv "version_info = 3.11.2"; either names the interpreter.
_VERSION_LINE = re.compile(r"^\s*version(?:_info)?\s*=\s*(\d+)\.(\d+)", re.MULTILINE)


def system_python() -> str:
    """X.Y of the system's python3 (pws's own venv runs on it: its package depends on it)."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def venv_python(venv: Path) -> str | None:
    """X.Y the venv was made for, from its pyvenv.cfg (read without following a link: the
    venv is the site user's); None if it says nothing usable."""
    match = _VERSION_LINE.search(safefs.read_text_or_empty(venv / "pyvenv.cfg"))
    return f"{match.group(1)}.{match.group(2)}" if match else None


@dataclass
class Stale:
    name: str
    was: str | None  # None: the venv names no Python (damaged or missing)


def stale_sites(env: Env, names: list[str]) -> list[Stale]:
    """The sites among names whose live venv is not for the system's Python."""
    now = system_python()
    stale = []
    for name in names:
        try:
            live = Releases(env.paths, name).current()
        except (PwsError, OSError, LookupError, ValueError) as exc:  # a damaged record
            env.ui.warn(f"site {name}: its live release cannot be read ({exc}); skipped.")
            continue
        if live is None:
            continue
        was = venv_python(live.venv)
        if was != now:
            stale.append(Stale(name, was))
    return stale


def rebuild(env: Env, item: Stale) -> None:
    """A new release of the site's live code with a venv for the system's Python, live once
    it answers; the live release serves until then, and stays if the new one fails."""
    from .commands.deploy_cmd import redeploy_live
    now = system_python()
    with site_lock(env.paths, item.name):
        site = sitemod.load(env.paths, item.name)
        formula = formulae.load(site.formula, env.paths)
        was = item.was or "an unknown Python"
        redeploy_live(env, site, formula, f"rebuild for Python {now} (venv for {was})")


def rebuild_stale(env: Env, names: list[str]) -> list[str]:
    """Rebuild every stale site among names; one that fails is reported (and recorded as an
    alert) and the others go on. Returns the names that failed."""
    stale = stale_sites(env, names)
    if not stale:
        return []
    now = system_python()
    env.ui.say(f"pws: the system's Python is now {now}; rebuilding the venv of "
               f"{len(stale)} site(s) made for another one")
    failed = []
    for item in stale:
        try:
            rebuild(env, item)
            env.ui.say(f"pws: site {item.name}: serving on Python {now}")
        # Per site (a project whose pins do not install on the new Python, a damaged site):
        # the others go on, and this one keeps its old release.
        except (PwsError, OSError, LookupError, ValueError) as exc:
            failed.append(item.name)
            reason = f"its venv could not be rebuilt for Python {now}: {exc}"
            env.ui.warn(f"site {item.name}: {reason}. Its old release keeps serving while "
                        f"python{item.was or '3'} stays installed (do not `apt autoremove` it "
                        f"yet); fix the project's requirements, then `pws rebuild {item.name}`.")
            alerts.record(env, item.name, reason)
    return failed
