"""The Pyramid formula (shipped by pws-pyramid): a minimal ini-based app made with
paste.app_factory, or an adopted project's production.ini; gunicorn runs it with --paste."""
from __future__ import annotations

import argparse
import configparser
from pathlib import Path

from pws import pins
from pws.errors import InvalidInput
from pws.formulae import Context, Formula

PACKAGE = "webapp"
INI_NAMES = ("production.ini", "app.ini", "development.ini")
FILES = {
    f"{PACKAGE}/__init__.py": '''\
"""Made by `mksite pyramid`: a paste.app_factory; grow it from here."""
from pyramid.config import Configurator
from pyramid.response import Response


def hello(request):
    return Response(f"Pyramid site {request.registry.settings.get('site', '')} is live\\n")


def main(global_config, **settings):
    with Configurator(settings=settings) as config:
        config.add_route("home", "/")
        config.add_view(hello, route_name="home")
        config.add_static_view(name="static", path="webapp:static")
        return config.make_wsgi_app()
''',
    f"{PACKAGE}/static/style.css": "body { font-family: sans-serif; }\n",
    "production.ini": f'''\
[app:main]
use = call:{PACKAGE}:main
site = %(here)s

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARN
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)s [%(name)s] %(message)s
''',
}

CHECK = """
import sys
from pyramid.paster import get_app
try:
    get_app(sys.argv[1], "main")
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
    sys.exit(3)
"""


class PyramidFormula(Formula):
    name = "pyramid"

    def requirements(self, ctx: Context) -> list[str]:
        if (ctx.app_dir / "requirements.txt").is_file() or (ctx.app_dir / "pyproject.toml").is_file():
            return []
        return [pins.PYRAMID]

    def new_project(self, ctx: Context, args: argparse.Namespace) -> None:
        for rel, text in FILES.items():
            path = ctx.app_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text.replace("site = %(here)s", f"site = {ctx.site.name}"))
        ctx.site.options["ini"] = "production.ini"
        ctx.site.app = "pyramid.paster:get_app"  # recorded for humans; gunicorn uses paste
        ctx.site.static.setdefault("/static/", f"{PACKAGE}/static")

    def detect(self, src: Path, args: argparse.Namespace) -> dict:
        for name in INI_NAMES:
            ini = src / name
            if ini.is_file() and self._has_main(ini):
                return {"options": {"ini": name}, "app": "pyramid.paster:get_app"}
        raise InvalidInput(f"{src} is not a Pyramid project: no {' / '.join(INI_NAMES)} with an "
                           "[app:main] section.", "give the directory that holds production.ini.")

    @staticmethod
    def _has_main(ini: Path) -> bool:
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read(ini)
        except configparser.Error:
            return False
        return parser.has_section("app:main")

    def _ini(self, ctx: Context) -> str:
        return str(ctx.app_dir / ctx.site.options["ini"])

    def gunicorn_settings(self, ctx: Context) -> dict[str, object]:
        return {"paste": self._ini(ctx), "wsgi_app": None}

    def check_app(self, ctx: Context) -> None:
        proc = ctx.run_as_site([str(ctx.venv / "bin" / "python"), "-c", CHECK, self._ini(ctx)],
                               problem=f"The Pyramid app in {ctx.site.options['ini']} does not load:",
                               fix="check its [app:main] section and the project's requirements.")
        return proc


FORMULA = PyramidFormula()
