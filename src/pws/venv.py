"""Site virtualenvs, made and filled by the site user (docs/security.md): Debian's python3 -m venv
without pip, then Debian's pip (`--python` the venv's interpreter), each run as the site user
with its own cache. pip builds sdists and the project itself, running their code: never as root."""
from __future__ import annotations

from pathlib import Path

from .errors import InvalidInput
from .paths import env_override
from .runas import base_env, run_as

SYSTEM_PYTHON = env_override("PWS_PYTHON") or "/usr/bin/python3"

# Run as the site user: the app must import with the rights it runs with. -I keeps the
# caller's environment and the working directory out of sys.path; the app dir goes first.
_CHECK_APP = """
import importlib, sys
sys.path.insert(0, sys.argv[1])
module, _, attr = sys.argv[2].partition(":")
attr = attr.removesuffix("()")
try:
    obj = getattr(importlib.import_module(module), attr)
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(3)
sys.exit(0 if callable(obj) else 4)
"""


def python(venv: Path) -> Path:
    return venv / "bin" / "python"


def create(venv: Path, user: str, home: Path) -> None:
    """A venv without its own pip (3 s saved per site): Debian's pip installs into it."""
    run_as(user, [SYSTEM_PYTHON, "-I", "-m", "venv", "--without-pip", str(venv)],
           env=base_env(home), problem=f"Could not create the venv {venv}.",
           fix="install python3-venv.")


def pip_install(venv: Path, *, user: str, home: Path, cache: Path, tmp: Path, packages=(),
                requirement_files=(), project: Path | None = None) -> None:
    """Install into venv as user; cache and tmp are the user's own dirs."""
    if not (packages or requirement_files or project):
        return
    args = [SYSTEM_PYTHON, "-I", "-m", "pip", "--python", str(python(venv)), "install",
            "--disable-pip-version-check", "--no-input", "--quiet", "--cache-dir", str(cache)]
    for req in requirement_files:
        args += ["-r", str(req)]
    if project is not None:
        args.append(str(project))
    args += ["--", *packages] if packages else []
    env = {**base_env(home), "TMPDIR": str(tmp)}
    run_as(user, args, env=env, cwd=tmp, problem="pip could not install the site's requirements:",
           fix="check the --requirement specs and the project's requirements.txt; nothing was kept.")


def check_app(venv: Path, app_dir: Path, spec: str, user: str, home: Path,
              site_env: dict[str, str] | None = None) -> None:
    """Import the app as the site user, with the environment it is served with (site_env)."""
    proc = run_as(user, [str(python(venv)), "-I", "-c", _CHECK_APP, str(app_dir), spec],
                  env={**base_env(home, venv), **(site_env or {})}, cwd=app_dir)
    if proc.returncode == 3:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        from .apperror import fix_for
        raise InvalidInput(f"The app {spec!r} does not import: {last}",
                           fix_for([last], home.name)
                           or "check --app MODULE:CALLABLE against the project's files.")
    if proc.returncode == 4:
        raise InvalidInput(f"The app {spec!r} is not callable.",
                           "name the WSGI callable (or a factory followed by '()').")
    if proc.returncode != 0:
        raise InvalidInput(f"Checking the app {spec!r} failed: {proc.stderr.strip()[-500:]}",
                           "check the project and its requirements.")
