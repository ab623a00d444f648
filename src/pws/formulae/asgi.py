"""ASGI apps (docs/architecture.md, "ASGI"): the generic `asgi` formula and what every ASGI site
shares, whatever its formula (Django with --asgi too): gunicorn's master with the uvicorn
worker class, on the same socket-activated units as a WSGI site.

The framework and the app object are found by reading the project's files (ast, never an
import as root); the app is only ever imported as the site user, by the import check, which
also tells an ASGI app from a WSGI one."""
from __future__ import annotations

import argparse
import ast
from pathlib import Path

from .. import pins, safefs
from ..errors import InvalidInput
from ..runas import base_env, run_as
from ..site import Site
from . import Context, Formula, write_skeleton

WORKER_CLASS = "uvicorn_worker.UvicornWorker"
# Framework -> the class whose instance is the app (`app = FastAPI()`).
FRAMEWORKS = {"fastapi": "FastAPI", "starlette": "Starlette", "litestar": "Litestar",
              "quart": "Quart"}
WSGI_FRAMEWORKS = {"flask": "Flask", "bottle": "Bottle", "pyramid": "Configurator"}
PREFERRED = ("main.py", "app.py", "asgi.py", "application.py", "server.py")
SEARCH_DEPTH = 3
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", "tests", "test"}
MAX_FILES = 400  # a hostile tree of many files is read no further than this

HELLO = '''"""A placeholder ASGI app made by `mksite asgi`: replace it with your own."""


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    body = b"Hello from PWS (ASGI)\\n"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
'''

# Run as the site user (-I, its venv): import the app and say whether it is an ASGI callable.
# Exit 3: does not import; 4: not callable; 5: a WSGI app or another callable, not ASGI.
CHECK = """
import importlib, inspect, sys
sys.path.insert(0, sys.argv[1])
module, _, attr = sys.argv[2].partition(":")
factory = attr.endswith("()")
try:
    obj = getattr(importlib.import_module(module), attr.removesuffix("()"))
    if factory:
        obj = obj()
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(3)
if not callable(obj):
    sys.exit(4)
call = obj if inspect.isroutine(obj) else type(obj).__call__
call = inspect.unwrap(call)
if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
    sys.exit(0)
print(type(obj).__module__ + "." + type(obj).__qualname__, file=sys.stderr)
sys.exit(5)
"""


def is_asgi(site: Site) -> bool:
    """Served through the uvicorn worker: the asgi formula, or a formula told so (--asgi)."""
    return site.formula == "asgi" or site.options.get("interface") == "asgi"


def server_description(site: Site) -> str:
    """What serves the site, for `pws status`."""
    return f"gunicorn + {WORKER_CLASS} (ASGI)" if is_asgi(site) else "gunicorn (WSGI)"


def gunicorn_settings(site: Site) -> dict[str, object]:
    return {"worker_class": WORKER_CLASS} if is_asgi(site) else {}


def requirements(site: Site) -> list[str]:
    return list(pins.ASGI_REQUIREMENTS) if is_asgi(site) else []


def check(ctx: Context, work_dir: Path) -> None:
    """Import the app as the site user and refuse one that is not an ASGI callable."""
    spec, venv = ctx.site.app, ctx.venv
    proc = run_as(ctx.site.user, [str(venv / "bin" / "python"), "-I", "-c", CHECK, str(work_dir),
                                  spec],
                  env={**base_env(ctx.home, venv), **ctx.site_env()}, cwd=work_dir)
    last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
    if proc.returncode == 3:
        from ..apperror import fix_for
        raise InvalidInput(f"The app {spec!r} does not import: {last}",
                           fix_for([last], ctx.site.name)
                           or "check --app MODULE:ATTR against the project's files.")
    if proc.returncode in (4, 5):
        what = "not callable" if proc.returncode == 4 else f"a {last}, not an ASGI app"
        raise InvalidInput(f"The app {spec!r} is {what} (an ASGI app is an async callable "
                           "app(scope, receive, send)).",
                           "name the ASGI app with --app MODULE:ATTR, or serve a WSGI app with "
                           "`mksite wsgi` (or its framework's formula).")
    if proc.returncode != 0:
        raise InvalidInput(f"Checking the app {spec!r} failed: {proc.stderr.strip()[-500:]}",
                           "check the project and its requirements.")


# ---------------------------------------------------------------- detection, by reading files
def _python_files(src: Path) -> list[Path]:
    found = []
    for path in sorted(src.rglob("*.py")):
        rel = path.relative_to(src)
        if (len(rel.parts) <= SEARCH_DEPTH and not SKIP_DIRS & set(rel.parts[:-1])
                and not path.is_symlink() and path.is_file()):
            found.append(path)
        if len(found) >= MAX_FILES:
            break
    return found


def _module_name(src: Path, path: Path) -> str | None:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts) if parts and all(p.isidentifier() for p in parts) else None


def _imported_classes(tree: ast.Module, table: dict[str, str]) -> dict[str, str]:
    """Local names bound to a framework's app class (`from fastapi import FastAPI as F`)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            top = node.module.split(".")[0].lower()
            for alias in node.names:
                if table.get(top) == alias.name:
                    names[alias.asname or alias.name] = top
    return names


def _app_assignments(tree: ast.Module, table: dict[str, str]) -> list[tuple[str, str]]:
    """(variable, framework) for each module-level `x = FastAPI(...)` / `x = fastapi.FastAPI()`."""
    classes = _imported_classes(tree, table)
    found = []
    for node in tree.body:
        if not (isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call)):
            continue
        func = node.value.func
        framework = None
        if isinstance(func, ast.Name):
            framework = classes.get(func.id)
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            top = func.value.id.lower()
            framework = top if table.get(top) == func.attr else None
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if framework and isinstance(target, ast.Name):
                found.append((target.id, framework))
    return found


def _parse(path: Path) -> ast.Module | None:
    text = safefs.read_text_or_empty(path)
    if len(text) > 1_000_000:
        return None
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def find_apps(src: Path, table: dict[str, str] = FRAMEWORKS) -> list[tuple[str, str]]:
    """Every (MODULE:ATTR, framework) app object the project's files make at module level."""
    apps = []
    for path in _python_files(src):
        module = _module_name(src, path)
        tree = _parse(path) if module else None
        for attr, framework in _app_assignments(tree, table) if tree else ():
            apps.append((f"{module}:{attr}", framework))
    return apps


def _rank(spec: str) -> tuple[int, str]:
    module = spec.split(":")[0]
    top = f"{module.rsplit('.', 1)[-1]}.py"
    return (PREFERRED.index(top) if top in PREFERRED else len(PREFERRED), spec)


def detect_app(src: Path) -> tuple[str, str]:
    """The project's ASGI app (MODULE:ATTR) and its framework; one clear error otherwise."""
    apps = find_apps(src)
    if not apps:
        wsgi = find_apps(src, WSGI_FRAMEWORKS)
        if wsgi:
            raise InvalidInput(f"{src} holds a {wsgi[0][1]} app ({wsgi[0][0]}), a WSGI framework, "
                               "not an ASGI one.", f"serve it with `mksite {wsgi[0][1]}` or "
                               "`mksite wsgi`.")
        raise InvalidInput(f"No ASGI app found in {src}: looked for a module-level app of "
                           f"{', '.join(sorted(FRAMEWORKS))} (unknown framework, or none).",
                           "name the app with --app MODULE:ATTR.")
    apps.sort(key=lambda a: _rank(a[0]))
    best = [a for a in apps if _rank(a[0])[0] == _rank(apps[0][0])[0]]
    if len(best) > 1:
        raise InvalidInput(f"{src} holds several ASGI apps: {', '.join(a[0] for a in best)}.",
                           "name the one to serve with --app MODULE:ATTR.")
    return apps[0]


class AsgiFormula(Formula):
    name = "asgi"

    def new_project(self, ctx: Context, args: argparse.Namespace) -> None:
        write_skeleton(ctx, {"hello.py": HELLO})
        ctx.site.app = ctx.site.app or "hello:app"

    def detect(self, src: Path, args: argparse.Namespace) -> dict:
        if args.app:
            return {}
        spec, _framework = detect_app(src)
        return {"app": spec}

    def check_app(self, ctx: Context) -> None:
        check(ctx, ctx.app_dir)
