"""The Flask formula (shipped by pws-flask): an app-factory skeleton, or an adopted app whose
app / application / create_app() is found the way `flask run` finds it: in wsgi.py, app.py,
application.py, main.py or a top-level package (`--app MODULE:NAME` overrides)."""
from __future__ import annotations

import argparse
import ast
from pathlib import Path

from pws import formulae, pins, safefs
from pws.errors import InvalidInput
from pws.formulae import Context, Formula
from pws.tls.state import framework_facts

PACKAGE = "webapp"
FILES = {
    f"{PACKAGE}/__init__.py": '''\
"""Made by `mksite flask`: an app factory; grow it from here."""
import os

from flask import Flask, render_template


def create_app():
    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "")
    # FLASK_* variables pws sets, e.g. FLASK_SESSION_COOKIE_SECURE on an HTTPS site.
    app.config.from_prefixed_env()
    # The site's database, if it has one: sqlite:///PATH or postgresql://USER@/DB?host=SOCKET
    app.config["DATABASE_URL"] = os.environ.get("DATABASE_URL", "")

    @app.route("/")
    def index():
        return render_template("index.html", site=os.environ.get("PWS_SITE", ""))

    return app
''',
    f"{PACKAGE}/templates/index.html": '''\
<!doctype html>
<title>{{ site }}</title>
<link rel="stylesheet" href="{{ url_for('static', filename='style.css') }}">
<h1>Flask site {{ site }} is live</h1>
''',
    f"{PACKAGE}/static/style.css": "body { font-family: sans-serif; margin: 3em; }\n",
    "requirements.txt": pins.FLASK + "\n",
}
MODULES = ("wsgi", "app", "application", "main")  # looked at in this order, then packages
APP_NAMES = ("app", "application")  # preferred, as by `flask run`
FACTORY_NAMES = ("create_app", "make_app")


# --- detection (pure functions of a source tree, unit-tested)
def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(safefs.read_text_or_empty(path))
    except SyntaxError:
        return None


def top_level_names(module_file: Path) -> set[str]:
    """Names a module defines or imports at its top level, read with ast (nothing imported)."""
    tree = _parse(module_file)
    names: set[str] = set()
    for node in tree.body if tree else ():
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.AnnAssign,)) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    return names


def imports_flask(module_file: Path) -> bool:
    tree = _parse(module_file)
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "flask":
            return True
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "flask" for a in node.names):
            return True
    return False


def entry_point(module_file: Path) -> str | None:
    """'app' or 'application' if the module has one, else 'create_app()' / 'make_app()'."""
    names = top_level_names(module_file)
    for name in APP_NAMES:
        if name in names:
            return name
    for name in FACTORY_NAMES:
        if name in names:
            return name + "()"
    return None


def candidates(src: Path) -> list[tuple[str, Path]]:
    """(module name, file) in the order they are searched."""
    mods = [(stem, src / f"{stem}.py") for stem in MODULES]
    mods += [(p.parent.name, p) for p in sorted(src.glob("*/__init__.py")) if p.parent.name.isidentifier()]
    return [(mod, path) for mod, path in mods if path.is_file()]


def uses_flask(src: Path) -> bool:
    if formulae.project_requires(src, "flask"):
        return True
    files = [p for _, p in candidates(src)] + sorted(src.glob("*/*.py"))
    return any(imports_flask(p) for p in files)


def find_app(src: Path) -> str:
    if uses_flask(src):
        for module, path in candidates(src):
            entry = entry_point(path)
            if entry:
                return f"{module}:{entry}"
    raise InvalidInput(
        f"No Flask app found in {src}: looked for app, application, create_app() or make_app() "
        f"in {', '.join(m + '.py' for m in MODULES)} and the top-level packages of a project that "
        "imports flask.", "name it with --app MODULE:NAME (e.g. --app myapp:create_app()).")


def static_dir(src: Path, app: str) -> str | None:
    """The app's static/ folder: its package's, else the project's, else a top-level package's."""
    module_path = src.joinpath(*app.split(":")[0].split("."))
    tries = [module_path / "static", src / "static"] + sorted(p.parent / "static" for p in src.glob("*/__init__.py"))
    for path in tries:
        if path.is_dir():
            return path.relative_to(src).as_posix()
    return None


class FlaskFormula(Formula):
    name = "flask"
    framework_pin = pins.FLASK
    default_db = "sqlite"

    def new_project(self, ctx: Context, args: argparse.Namespace) -> None:
        formulae.write_skeleton(ctx, FILES)
        ctx.site.app = ctx.site.app or f"{PACKAGE}:create_app()"
        ctx.site.static.setdefault("/static/", f"{PACKAGE}/static")

    def detect(self, src: Path, args: argparse.Namespace) -> dict:
        app = args.app or find_app(src)
        static = static_dir(src, app)
        return {"app": app, "static": {"/static/": static} if static else {}}

    def env(self, ctx: Context) -> dict[str, str]:
        return {"SECRET_KEY": ctx.secrets.get_or_make("secret_key"), **tls_env(ctx)}


def tls_env(ctx: Context) -> dict[str, str]:
    """On an HTTPS site (`pws tls`): secure session cookies and https URLs, as FLASK_*
    variables (read by app.config.from_prefixed_env(), which the new-project skeleton calls)."""
    if not framework_facts(ctx.paths, ctx.site).https:
        return {}
    return {"FLASK_SESSION_COOKIE_SECURE": "true", "FLASK_PREFERRED_URL_SCHEME": "https"}


FORMULA = FlaskFormula()
