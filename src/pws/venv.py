"""Site virtualenvs, made and filled by the site user (docs/security.md).

uv (shipped in pws's own venv, pinned in requirements.txt) makes the venv from Debian's
/usr/bin/python3 and installs into it (`uv pip install --python VENV/bin/python`), as the
site user, with the site's own cache (`/var/cache/pws/pip/NAME/uv`) hard-linked into the venv
where both share a file system. Debian's pip (`--python`, its cache `/var/cache/pws/pip/NAME`)
is the fallback: when uv is not there, when /etc/pip.conf says something uv cannot honour,
and when uv fails for any reason but an unsatisfiable set of requirements (which pip would
not satisfy either). Both build sdists and the project itself, running their code: never as
root. A failed install raises: the caller rolls back."""
from __future__ import annotations

import configparser
import re
import sys
from pathlib import Path

from . import pins
from .errors import CommandFailed, InvalidInput
from .paths import env_override
from .runas import base_env, run_as

SYSTEM_PYTHON = env_override("PWS_PYTHON") or "/usr/bin/python3"
# The admin's pip configuration: uv does not read it, so pws passes what it says on to uv.
PIP_CONFIGS = ("/etc/pip.conf", "/etc/xdg/pip/pip.conf")
# pip.conf keys with no effect on what gets installed (or that pws sets itself).
_PIP_HARMLESS = {"disable-pip-version-check", "timeout", "default-timeout", "retries",
                 "progress-bar", "quiet", "verbose", "no-input", "break-system-packages",
                 "root-user-action", "no-color", "no-warn-script-location", "cache-dir",
                 "no-cache-dir", "require-virtualenv", "user", "prefer-binary"}
FIX_REQUIREMENTS = "check the --requirement specs and the project's requirements.txt; nothing was kept."

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


def uv_binary() -> Path | None:
    """The uv of pws's own venv (the wheel's binary), or None: pip is used then."""
    override = env_override("PWS_UV")
    if override is not None:
        return Path(override) if override else None
    candidate = Path(sys.prefix) / "bin" / "uv"
    return candidate if candidate.is_file() else None


def _uv_env(home: Path, tmp: Path | None = None) -> dict[str, str]:
    """uv as the site user: no interpreter downloads, no state outside the site's own dirs,
    the system's CA certificates (as Debian's pip uses them)."""
    env = {**base_env(home), "UV_PYTHON_DOWNLOADS": "never", "UV_NO_PROGRESS": "1",
           "UV_NATIVE_TLS": "1"}
    if tmp is not None:
        env["TMPDIR"] = str(tmp)
    return env


def create(venv: Path, user: str, home: Path) -> None:
    """A venv of Debian's python3 without pip (the installer runs from outside it)."""
    uv = uv_binary()
    if uv is not None:
        proc = run_as(user, [uv, "venv", "--quiet", "--no-config", "--python", SYSTEM_PYTHON,
                             "--allow-existing", str(venv)], env=_uv_env(home))
        if proc.returncode == 0:
            return
    run_as(user, [SYSTEM_PYTHON, "-I", "-m", "venv", "--without-pip", str(venv)],
           env=base_env(home), problem=f"Could not create the venv {venv}.",
           fix="install python3-venv.")


def pip_config(paths=PIP_CONFIGS) -> tuple[list[str], dict[str, str], str]:
    """What the admin's pip.conf says, as uv arguments and environment; the third item names
    a setting uv cannot honour ("" if none): then pip installs, as the admin configured it."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(paths, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as exc:
        return [], {}, f"pip.conf does not parse ({exc})"
    args: list[str] = []
    env: dict[str, str] = {}
    for section in ("global", "install"):
        if not parser.has_section(section):
            continue
        for key, value in parser.items(section):
            values = value.split()
            if key == "index-url":
                args += ["--index-url", value.strip()]
            elif key == "extra-index-url":
                for url in values:
                    args += ["--extra-index-url", url]
            elif key == "find-links":
                for place in values:
                    args += ["--find-links", place]
            elif key == "no-index":
                if value.strip().lower() in ("1", "true", "yes", "on"):
                    args.append("--no-index")
            elif key == "trusted-host":
                for host in values:
                    args += ["--allow-insecure-host", host]
            elif key == "cert":
                env["SSL_CERT_FILE"] = value.strip()
            elif key == "proxy":
                env["HTTPS_PROXY"] = env["HTTP_PROXY"] = value.strip()
            elif key not in _PIP_HARMLESS:
                return [], {}, f"pip.conf sets {key}, which uv does not read"
    return args, env, ""


def pip_install(venv: Path, *, user: str, home: Path, cache: Path, tmp: Path, packages=(),
                requirement_files=(), project: Path | None = None, ui=None,
                compile_bytecode: bool = True) -> str:
    """Install into venv as user; cache and tmp are the user's own dirs. uv first, else pip
    (see the module's doc); which one installed. Raises CommandFailed (or InvalidInput for
    requirements that cannot be met) with one line saying why. compile_bytecode=False leaves
    uv's installs without bytecode (uv compiles only what it installed: the sealed venv must
    get it at once, so pws always asks for it; pip always compiles)."""
    if not (packages or requirement_files or project):
        return ""
    uv = uv_binary()
    reason = "uv is not installed" if uv is None else ""
    if uv is not None:
        config_args, config_env, reason = pip_config()
    if not reason:
        args = [uv, "pip", "install", "--python", str(python(venv)), "--quiet",
                "--cache-dir", str(cache / "uv"), "--link-mode", "hardlink",
                *(["--compile-bytecode"] if compile_bytecode else []), *config_args]
        args += _install_args(requirement_files, project, packages)
        env = {**_uv_env(home, tmp), **config_env}
        proc = run_as(user, args, env=env, cwd=tmp)
        if proc.returncode == 0:
            return "uv"
        output = (proc.stdout + proc.stderr).strip()
        unmet = unsatisfiable(output)
        if unmet:
            raise InvalidInput(unmet, FIX_REQUIREMENTS if "needs Python" not in unmet else
                               newer_python_fix())
        reason = f"uv failed ({_first_error(output)})"
    if ui is not None:
        ui.warn(f"installing with Debian's pip: {reason}")
    args = [SYSTEM_PYTHON, "-I", "-m", "pip", "--python", str(python(venv)), "install",
            "--disable-pip-version-check", "--no-input", "--quiet", "--cache-dir", str(cache)]
    args += _install_args(requirement_files, project, packages)
    env = {**base_env(home), "TMPDIR": str(tmp)}
    proc = run_as(user, args, env=env, cwd=tmp)
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        unmet = unsatisfiable(output)
        if unmet:
            raise InvalidInput(unmet, FIX_REQUIREMENTS)
        tail = "\n".join(output.splitlines()[-15:])
        raise CommandFailed(f"pip could not install the site's requirements:\n{tail}\n",
                            FIX_REQUIREMENTS, output)
    return "pip"


def newer_python_fix() -> str:
    """What to do when the project needs a newer Python than Debian's python3 here."""
    here = "%d.%d" % sys.version_info[:2]
    elsewhere = ("serve the site from Debian 13 (Python 3.13)" if sys.version_info < (3, 13)
                 else "serve the site from a Debian release with that Python")
    return (f"pin versions that run on Python {here} (Django: {pins.django_for(sys.version_info)}"
            f"), or {elsewhere}; nothing was kept.")


def _install_args(requirement_files, project: Path | None, packages) -> list[str]:
    args: list[str] = []
    for req in requirement_files:
        args += ["-r", str(req)]
    if project is not None:
        args.append(str(project))
    return args + (["--", *packages] if packages else [])


def _first_error(output: str) -> str:
    for line in output.splitlines():
        if line.strip().lower().startswith(("error", "×", "x ")):
            return line.strip()[:200]
    return (output.splitlines() or ["no output"])[-1].strip()[:200]


# What uv and pip say when the wanted versions need another Python.
_NEEDS_PYTHON = (
    re.compile(r"(?:versions of |\b)([A-Za-z0-9._-]+)(?:==\S+)? (?:depends on|requires?) "
               r"Python ?([<>=!~][^ ,;]*(?:, ?[<>=!~][^ ,;]*)*)"),
    re.compile(r"Package '([^']+)' requires a different Python: \S+ not in '([^']+)'"),
    re.compile(r"required by ([A-Za-z0-9._-]+) \S+ \(from"),
)
_IGNORED_FOR_PYTHON = re.compile(
    r"versions that require a different python version: \S+ Requires-Python ([^;\n]+)"
    r"(?:.|\n)*?satisfies the requirement ([A-Za-z0-9._-]+)")


def unsatisfiable(output: str) -> str:
    """One line for requirements that cannot be met together, or "" if that is not what the
    output says. When another Python is the cause: which one the project needs and which
    this system has."""
    # pws runs on Debian's python3, the interpreter of every site's venv.
    have = f"this system has Python {'.'.join(map(str, sys.version_info[:3]))} ({SYSTEM_PYTHON})"
    ignored = _IGNORED_FOR_PYTHON.search(output)
    if ignored:
        return (f"{ignored.group(2)} needs Python {ignored.group(1).strip()}; {have}.")
    match = _NEEDS_PYTHON[0].search(output)
    if match and ("No solution found" in output or "unsatisfiable" in output):
        return f"{match.group(1)} needs Python {match.group(2)}; {have}."
    match = _NEEDS_PYTHON[1].search(output)
    if match:
        return f"{match.group(1)} needs Python {match.group(2)}; {have}."
    if "different Python" in output:
        needs = re.search(r"'([<>=!~][^']*)' \(required by ([A-Za-z0-9._-]+)", output)
        if needs:
            return f"{needs.group(2)} needs Python {needs.group(1)}; {have}."
    if "No solution found when resolving" in output:
        cause = re.search(r"(?:cause:|╰─▶)\s*(.+?)(?:\n\S|\n\s*\n|$)", output, re.S)
        text = " ".join((cause.group(1) if cause else "").split()) or "no versions fit together"
        return f"The site's requirements cannot be met: {text}"
    if "Could not find a version that satisfies the requirement" in output:
        name = re.search(r"satisfies the requirement (\S+)", output).group(1)
        return (f"The site's requirements cannot be met: no version of {name} is available "
                "(from the package index pip is configured with).")
    return ""


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
