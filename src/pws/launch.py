"""`python3 -I -m pws.launch SITE proc|timer NAME`: what a process or timer unit runs, as the
site user (its unit sets User=). It reads the command from site.toml (or the live release's
record of its Procfile), the site's environment file, and execs the command in the live
release's venv and project dir. Root never runs it; the command is never given to a shell."""
from __future__ import annotations

import os
import sys

from . import appenv, processes, site as sitemod, validate
from .errors import PwsError
from .paths import Paths
from .releases import Releases
from .runas import base_env


def command_of(site, kind: str, item: str, procfile: dict) -> str:
    if kind == "timer":
        entry = site.timers.get(item)
    else:
        entry = processes.effective(site, procfile).get(item)
    if entry is None:
        raise PwsError(f"Site '{site.name}' has no {kind} '{item}'.",
                       f"see `pws {'timer' if kind == 'timer' else 'process'} {site.name} list`.")
    return entry["command"]


def _env_file(path) -> bytes:
    """The site's env file (root's, group-readable by the site). Read as the site user, who
    may not list the parent dirs (0711), so not through safefs's dir walk; root made every
    component, and the file itself is opened without following a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return b""
    with os.fdopen(fd, "rb") as f:
        return f.read()


def prepare(paths: Paths, site_name: str, kind: str, item: str) -> tuple[list[str], dict, str]:
    """(argv, environment, working dir) of the process or timer."""
    site = sitemod.load(paths, site_name)
    processes.name(item, kind)
    release = Releases(paths, site.name).live()
    real = release.dir.resolve()
    argv = validate.command(command_of(site, kind, item, release.meta.get("procfile", {})),
                            f"{kind} {item}")
    env = {**base_env(paths.site_home(site.name), real / "venv"),
           **appenv.parse(_env_file(paths.secrets_dir(site.name) / "env")),
           "PWS_RELEASE": str(real), "PWS_PROCESS": item,
           "PWS_INSTANCE": os.environ.get("PWS_INSTANCE", "")}
    work = real / "app" / site.options.get("project_dir", ".")
    return argv, env, str(work)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("proc", "timer"):
        print("usage: python3 -m pws.launch SITE proc|timer NAME", file=sys.stderr)
        return 2
    try:
        command, env, work = prepare(Paths.from_env(), *argv)
    except PwsError as exc:
        print(f"pws launch: error: {exc}", file=sys.stderr)
        return 1
    os.chdir(work)
    try:
        os.execvpe(command[0], command, env)
    except OSError as exc:
        print(f"pws launch: error: cannot run {command[0]}: {exc.strerror}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
