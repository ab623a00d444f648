"""Site virtualenvs: Debian's python3 -m venv, pip with a wheel cache shared by all sites."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from .errors import InvalidInput
from .runner import run

SYSTEM_PYTHON = os.environ.get("PWS_PYTHON", "/usr/bin/python3")

# Run as the site user inside the app dir: the app must import with the rights it runs with.
_CHECK_APP = """
import importlib, sys
module, _, attr = sys.argv[1].partition(":")
attr = attr.removesuffix("()")
try:
    obj = getattr(importlib.import_module(module), attr)
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(3)
sys.exit(0 if callable(obj) else 4)
"""


def create(venv: Path) -> None:
    """A venv without its own pip (3 s saved per site): Debian's pip installs into it."""
    run([SYSTEM_PYTHON, "-m", "venv", "--without-pip", str(venv)],
        problem=f"Could not create the venv {venv}.", fix="install python3-venv.")


def python(venv: Path) -> Path:
    return venv / "bin" / "python"


def pip_install(venv: Path, cache: Path, packages=(), requirement_files=(), project: Path | None = None) -> None:
    args = [SYSTEM_PYTHON, "-m", "pip", "--python", str(python(venv)), "install",
            "--disable-pip-version-check",
            "--no-input", "--quiet", "--cache-dir", str(cache)]
    for req in requirement_files:
        args += ["-r", str(req)]
    if project is not None:
        args.append(str(project))
    args += list(packages)
    if not (packages or requirement_files or project):
        return
    cache.mkdir(parents=True, exist_ok=True)
    run(args, problem="pip could not install the site's requirements:",
        fix="check the --requirement specs and the project's requirements.txt; nothing was kept.",
        timeout=1800)


def check_app(venv: Path, app_dir: Path, spec: str, user: str | None) -> None:
    cmd = [str(python(venv)), "-c", _CHECK_APP, spec]
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    proc = subprocess.run(cmd, cwd=app_dir, capture_output=True, text=True,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(app_dir), "HOME": str(app_dir)})
    if proc.returncode == 3:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InvalidInput(f"The app {spec!r} does not import: {last}",
                           "check --app MODULE:CALLABLE against the project's files.")
    if proc.returncode == 4:
        raise InvalidInput(f"The app {spec!r} is not callable.",
                           "name the WSGI callable (or a factory followed by '()').")
    if proc.returncode != 0:
        raise InvalidInput(f"Checking the app {spec!r} failed: {proc.stderr.strip()[-500:]}",
                           "check the project and its requirements.")
