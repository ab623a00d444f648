"""The Pyramid formula (shipped by pws-pyramid): a minimal ini-based app (a paste.app_factory),
or an adopted project's production.ini; gunicorn runs it as with `gunicorn --paste INI`."""
from __future__ import annotations

import argparse
import configparser
from pathlib import Path

from pws import formulae, pins, safefs
from pws.errors import CommandFailed, InvalidInput
from pws.formulae import AppRelative, Context, Formula

PACKAGE = "webapp"
INI_NAMES = ("production.ini", "app.ini", "deploy.ini")  # tried first, in this order
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
    "requirements.txt": pins.PYRAMID + "\n",
    "production.ini": f'''\
[app:main]
use = call:{PACKAGE}:main
site = SITE_NAME
pyramid.reload_templates = false
pyramid.debug_authorization = false
pyramid.debug_notfound = false
pyramid.debug_routematch = false
pyramid.default_locale_name = en
''',
}

# Run as the site user from the app dir: load the app the way gunicorn --paste will.
CHECK = """
import sys
from paste.deploy import loadapp
loadapp("config:" + sys.argv[1])
"""


# --- detection (pure functions of a source tree, unit-tested)
def app_main_use(ini: Path) -> str | None:
    """The `use` of the ini's [app:main] section ('' if it has none), or None without one."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(safefs.read_text_or_empty(ini), str(ini))
    except (configparser.Error, UnicodeDecodeError):
        return None
    if not parser.has_section("app:main"):
        return None
    return parser.get("app:main", "use", fallback="")


def find_ini(src: Path) -> str:
    """The deployment ini: production.ini first, else the one ini file with an [app:main]."""
    for name in INI_NAMES:
        if (src / name).is_file() and app_main_use(src / name) is not None:
            return name
    others = [p.name for p in sorted(src.glob("*.ini"))
              if p.name not in INI_NAMES and p.name != "development.ini"
              and app_main_use(p) is not None]
    if len(others) == 1:
        return others[0]
    if len(others) > 1:
        raise InvalidInput(f"{src} has several ini files with an [app:main]: {', '.join(others)}.",
                           "rename the one to serve to production.ini.")
    raise InvalidInput(f"{src} is not a Pyramid project: looked for an ini file with an "
                       f"[app:main] section ({', '.join(INI_NAMES)} or another *.ini; "
                       "development.ini is not served).", "give the directory that holds production.ini.")


def static_dir(src: Path, use: str) -> str | None:
    """The static/ folder of the app's package (from `use = egg:NAME` or `call:PKG…`), if any."""
    scheme, _, target = use.partition(":")
    package = target.split("#")[0].split(":")[0].split(".")[0].replace("-", "_")
    if scheme not in ("egg", "call") or not package:
        return None
    for path in (src / package / "static", src / "src" / package / "static"):
        if path.is_dir():
            return path.relative_to(src).as_posix()
    return None


class PyramidFormula(Formula):
    name = "pyramid"
    framework_pin = pins.PYRAMID
    default_db = "sqlite"

    def new_project(self, ctx: Context, args: argparse.Namespace) -> None:
        formulae.write_skeleton(ctx, {rel: text.replace("SITE_NAME", ctx.site.name)
                                              for rel, text in FILES.items()})
        ctx.site.options["ini"] = "production.ini"
        ctx.site.app = "pyramid.paster:get_app"  # for the record; gunicorn loads the ini
        ctx.site.static.setdefault("/static/", f"{PACKAGE}/static")

    def detect(self, src: Path, args: argparse.Namespace) -> dict:
        ini = find_ini(src)
        static = static_dir(src, app_main_use(src / ini) or "")
        return {"options": {"ini": ini}, "app": "pyramid.paster:get_app",
                "static": {"/static/": static} if static else {}}

    def _ini(self, ctx: Context) -> str:
        return str(ctx.app_dir / ctx.site.options["ini"])

    def gunicorn_settings(self, ctx: Context) -> dict[str, object]:
        # gunicorn loads a paste app when `paste` is set; the URI comes from wsgi_app.
        ini = ctx.site.options["ini"]
        return {"paste": AppRelative(ini), "wsgi_app": AppRelative(ini, prefix="config:")}

    def check_app(self, ctx: Context) -> None:
        ini = ctx.site.options["ini"]
        try:
            ctx.run_as_site([str(ctx.venv / "bin" / "python"), "-c", CHECK, self._ini(ctx)],
                            problem=f"The Pyramid app in {ini} does not load.")
        except CommandFailed as exc:
            last = (exc.output.strip().splitlines() or ["(no output)"])[-1]
            raise CommandFailed(f"The Pyramid app in {ini} does not load: {last}",
                                "check its [app:main] section and the project's requirements.",
                                exc.output) from exc


FORMULA = PyramidFormula()
