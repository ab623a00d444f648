"""The generic formula: any WSGI callable, `module:app` or a factory `module:create_app()`."""
from __future__ import annotations

import argparse
from pathlib import Path

from .. import safefs
from ..errors import InvalidInput
from . import Context, Formula, write_skeleton

# Tried in order when a project is adopted without --app.
CANDIDATES = (("wsgi.py", "wsgi:application"), ("wsgi.py", "wsgi:app"), ("app.py", "app:app"),
              ("main.py", "main:app"), ("application.py", "application:application"))

HELLO = '''"""A placeholder app made by `mksite wsgi`: replace it with your own."""


def app(environ, start_response):
    body = b"Hello from PWS\\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''


class WsgiFormula(Formula):
    name = "wsgi"

    def new_project(self, ctx: Context, args: argparse.Namespace) -> None:
        write_skeleton(ctx, {"hello.py": HELLO})
        ctx.site.app = ctx.site.app or "hello:app"

    def detect(self, src: Path, args: argparse.Namespace) -> dict:
        if args.app:
            return {}
        for filename, spec in CANDIDATES:
            if spec.split(":")[1] in safefs.read_text_or_empty(src / filename):
                return {"app": spec}
        raise InvalidInput(f"No WSGI app found in {src} (looked for wsgi.py, app.py, main.py).",
                           "name it with --app MODULE:CALLABLE.")
