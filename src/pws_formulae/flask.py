"""The Flask formula (shipped by pws-flask): an app-factory skeleton, or an adopted app whose
create_app / app / application is found in app.py, wsgi.py or the project's package."""
from __future__ import annotations

import argparse
import ast
from pathlib import Path

from pws import pins
from pws.errors import InvalidInput
from pws.formulae import Context, Formula

PACKAGE = "webapp"
FILES = {
    f"{PACKAGE}/__init__.py": '''\
"""Made by `mksite flask`: an app factory; grow it from here."""
import os

from flask import Flask, render_template


def create_app():
    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "")

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
}
FACTORY_NAMES = ("create_app", "make_app")
APP_NAMES = ("app", "application")


def _entry_point(module_file: Path) -> str | None:
    """'create_app()' or 'app' if the module defines one, read with ast (nothing imported)."""
    try:
        tree = ast.parse(module_file.read_text())
    except (SyntaxError, UnicodeDecodeError):
        return None
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            names.add(node.name + "()")
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom):
            names.update(a.asname or a.name for a in node.names)
    for candidate in [f + "()" for f in FACTORY_NAMES] + list(APP_NAMES):
        if candidate in names:
            return candidate
    return None


def _candidates(src: Path) -> list[tuple[str, Path]]:
    mods = [(stem, src / f"{stem}.py") for stem in ("wsgi", "app", "application", "main")]
    packages = sorted(p.parent for p in src.glob("*/__init__.py"))
    mods += [(pkg.name, pkg / "__init__.py") for pkg in packages if pkg.name.isidentifier()]
    return [(mod, path) for mod, path in mods if path.is_file()]


class FlaskFormula(Formula):
    name = "flask"

    def requirements(self, ctx: Context) -> list[str]:
        if (ctx.app_dir / "requirements.txt").is_file() or (ctx.app_dir / "pyproject.toml").is_file():
            return []
        return [pins.FLASK]

    def new_project(self, ctx: Context, args: argparse.Namespace) -> None:
        for rel, text in FILES.items():
            path = ctx.app_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        ctx.site.app = ctx.site.app or f"{PACKAGE}:create_app()"
        ctx.site.static.setdefault("/static/", f"{PACKAGE}/static")

    def detect(self, src: Path, args: argparse.Namespace) -> dict:
        found = {}
        if not args.app:
            for module, path in _candidates(src):
                entry = _entry_point(path)
                if entry:
                    found["app"] = f"{module}:{entry}"
                    break
            else:
                raise InvalidInput(
                    f"No Flask app found in {src}: looked for create_app(), app or application "
                    "in wsgi.py, app.py, application.py, main.py and the top-level packages.",
                    "name it with --app MODULE:CALLABLE.")
        module = (args.app or found["app"]).split(":")[0].replace(".", "/")
        static = src / module / "static" if (src / module).is_dir() else src / "static"
        if static.is_dir():
            found["static"] = {"/static/": str(static.relative_to(src))}
        return found

    def env(self, ctx: Context) -> dict[str, str]:
        return {"SECRET_KEY": ctx.secrets.get_or_make("secret_key")}


FORMULA = FlaskFormula()
