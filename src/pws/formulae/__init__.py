"""Formulae: how a kind of project becomes a site. The core ships `wsgi`; framework packages
ship theirs as modules in /usr/share/pws/formulae/NAME.py defining FORMULA (docs/architecture.md)."""
from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .. import appenv, databases, runas, safefs
from ..errors import InvalidInput, PwsError
from ..paths import Paths
from ..releases import READY, Release, Releases
from ..secrets_store import SecretsStore
from ..site import Site
from ..transaction import Transaction
from ..ui import UI

FRAMEWORK_PACKAGES = {"django": "pws-django", "flask": "pws-flask", "pyramid": "pws-pyramid"}
REQUIREMENT_FILES = ("requirements.txt", "pyproject.toml")


def project_requires(app_dir: Path, dist: str) -> bool:
    """Whether the project's requirements.txt or pyproject.toml names the distribution DIST
    (then the project's own version is installed, not the one pws pins)."""
    pattern = re.compile(rf"(^|[\s\"'\[,]){re.escape(dist)}\s*([\[<>=!~;\"',]|$)", re.I | re.M)
    return any(pattern.search(safefs.read_text_or_empty(app_dir / name))
               for name in REQUIREMENT_FILES)


@dataclass(frozen=True)
class AppRelative:
    """A gunicorn setting naming a file of the release's code: rendered relative to the
    release the master serves, never to one release's path."""
    path: str
    prefix: str = ""

    def render(self) -> str:
        return f'{self.prefix!r} + _os.path.join(_release, "app", {self.path!r})'


def write_skeleton(ctx: "Context", files: dict[str, str]) -> None:
    """A new project's files (relative path -> text) under the app dir, which the site user
    owns while it is built: written without following anything, owned by the site user."""
    uid, gid = runas.ids(ctx.site.user)
    for rel, text in files.items():
        path = ctx.app_dir / rel
        for parent in reversed(path.relative_to(ctx.app_dir).parents[:-1]):
            safefs.make_dir(ctx.app_dir / parent, 0o750, uid, gid)
        safefs.write_file(path, text, 0o640, uid, gid)


@dataclass
class Context:
    """What a formula may use while making or removing a site. release: the one being built
    (default: the live one); its real paths, since root follows no link."""
    site: Site
    paths: Paths
    ui: UI
    tx: Transaction
    release: Release | None = None
    facts: dict = field(default_factory=dict)  # what one step learned for a later one

    def _release(self) -> Release:
        if self.release is None:
            self.release = Releases(self.paths, self.site.name).live()
        return self.release

    @property
    def app_dir(self) -> Path:
        return self._release().app

    @property
    def venv(self) -> Path:
        return self._release().venv

    @property
    def static_dir(self) -> Path:
        """The release's own static dir (nginx serves it through `current/static`)."""
        return self._release().static

    @property
    def home(self) -> Path:
        return self.paths.site_home(self.site.name)

    @property
    def secrets(self) -> SecretsStore:
        return SecretsStore(self.paths, self.site)

    @property
    def database(self) -> "databases.Database | None":
        return databases.for_site(self.site, self.paths)

    def site_env(self) -> dict[str, str]:
        """The environment the app runs with (the file its gunicorn config reads).

        Only ever given to the site's own programs, after the switch to the site user. Values
        are exact (appenv: literal lines, split at LF and the first '=')."""
        return appenv.parse(safefs.read_file(self.paths.secrets_dir(self.site.name) / "env") or b"")

    def run_as_site(self, argv: list[str], *, problem: str, fix: str = "", cwd: Path | None = None,
                    capture: bool = True, extra_env: dict[str, str] | None = None):
        """Run argv as the site user, in the site's venv and environment, from the app dir:
        the CompletedProcess, or (capture=False, interactive) the exit status.

        The environment goes to the child through exec, never on a command line (ps shows those),
        and reaches it only after the switch to the site user (runas)."""
        env = {**runas.base_env(self.home, self.venv), **self.site_env(), **(extra_env or {})}
        proc = runas.run_as(self.site.user, argv, env=env, cwd=cwd or self.app_dir,
                            capture=capture, problem=problem, fix=fix)
        return proc if capture else proc.returncode


class Formula:
    """Defaults shared by every formula; a formula overrides what its framework needs."""

    name = "base"
    default_db = ""  # the database a new site gets without --db

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Formula-specific mksite flags."""

    def new_project(self, ctx: Context, args: argparse.Namespace) -> None:
        raise InvalidInput(f"The {self.name} formula cannot make a new project.",
                           "bring one with --from PATH.")

    def detect(self, src: Path, args: argparse.Namespace) -> dict:
        """Inspect an existing project; return site fields (e.g. app) it implies."""
        return {}

    framework_pin = ""  # e.g. pins.DJANGO: installed unless the project names its own version

    def requirements(self, ctx: Context) -> list[str]:
        """Packages the framework itself needs in the site venv (besides the project's)."""
        if not self.framework_pin or project_requires(ctx.app_dir, self.name):
            return []
        return [self.framework_pin]

    def env(self, ctx: Context) -> dict[str, str]:
        """Environment variables the app needs (e.g. DJANGO_SETTINGS_MODULE)."""
        return {}

    def work_dir(self, ctx: Context) -> Path:
        """Where the site's one-off commands (`pws run`) start: the project's own dir."""
        return ctx.app_dir

    def commands(self) -> list[tuple[str, str, object, object]]:
        """Extra `pws` subcommands: (name, help, add_arguments(parser), run(args, env))."""
        return []

    def configure(self, ctx: Context) -> bool:
        """Framework settings for this site (e.g. Django's generated override module), written
        by root into the sealed tree without following links; True if they changed."""
        return False

    def check_app(self, ctx: Context) -> None:
        """Fail clearly, before anything is served, if the app does not load."""
        from .. import venv
        venv.check_app(ctx.venv, ctx.app_dir, ctx.site.app, ctx.site.user, ctx.home,
                       ctx.site_env())

    def ready_paths(self, ctx: Context) -> list[str]:
        """What must answer below 500 through nginx before the site counts as live."""
        return [ctx.site.health_path]

    def project_subdir(self, site: Site) -> str:
        """Where gunicorn runs the app from, relative to the release's app/ (its sys.path)."""
        return "."

    def gunicorn_settings(self, ctx: Context) -> dict[str, object]:
        """Extra gunicorn settings (e.g. paste for ini-based apps)."""
        return {}

    def deploy_hooks(self, ctx: Context) -> None:
        """Run after code or settings change (migrate, collectstatic), as the site user."""

    def setup_commands(self, ctx: Context) -> list[str]:
        """Commands run once, as the site user, on the first release that has them (e.g.
        `flask init-db`): site.toml's setup_commands; a formula may add its own."""
        return list(ctx.site.setup_commands)

    def release_commands(self, ctx: Context) -> list[str]:
        """Commands run as the site user on every release being built, after deploy_hooks."""
        return list(ctx.site.release_commands)

    def status_lines(self, ctx: Context) -> list[str]:
        """What `pws status` says of the formula's choices (settings module, instance folder)."""
        return []

    def remove(self, ctx: Context, args: argparse.Namespace) -> None:
        """Tear down what the formula made outside the site home (databases)."""


def run_release_commands(formula: Formula, ctx: Context) -> None:
    """The setup commands not yet run for this site (each ready release records those done),
    then the release commands: as the site user, in its venv and environment, from the
    release's project dir. The release records the setup commands done."""
    from ..validate import command
    done = {line for release in Releases(ctx.paths, ctx.site.name).all()
            if release.state == READY for line in release.meta.get("setup_done", [])}
    todo = [(line, True) for line in formula.setup_commands(ctx) if line not in done]
    todo += [(line, False) for line in formula.release_commands(ctx)]
    todo += [(line, False) for line in ctx._release().meta.get("procfile_release", [])]
    for line, once in todo:
        kind = "setup" if once else "release"
        argv = command(line, f"{kind}_commands")
        with ctx.ui.step(f"{kind} command: {line}"):
            ctx.run_as_site(argv, cwd=ctx.app_dir / formula.project_subdir(ctx.site),
                            problem=f"The {kind} command `{line}` failed:",
                            fix=f"fix the project, or the command ({kind}_commands in "
                                f"{ctx.paths.site_file(ctx.site.name)}).")
        if once:
            done.add(line)
    ctx._release().meta["setup_done"] = sorted(done)


def load(name: str, paths: Paths) -> Formula:
    if name == "wsgi":
        from .wsgi import WsgiFormula
        return WsgiFormula()
    if name == "asgi":
        from .asgi import AsgiFormula
        return AsgiFormula()
    module_file = paths.formulae / f"{name}.py"
    if not name.isidentifier() or not module_file.is_file():
        if name in FRAMEWORK_PACKAGES:
            raise PwsError(f"The {name} formula is not installed.",
                           f"apt install {FRAMEWORK_PACKAGES[name]}")
        known = ", ".join(["wsgi", "asgi", *sorted(FRAMEWORK_PACKAGES)])
        raise InvalidInput(f"There is no formula '{name}'.", f"use one of: {known}.")
    spec = importlib.util.spec_from_file_location(f"pws_formula_{name}", module_file)
    module = importlib.util.module_from_spec(spec)
    # No __pycache__ in /usr/share/pws/formulae: dpkg could not remove the directory.
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes_bytecode
    return module.FORMULA


def available(paths: Paths) -> list[str]:
    found = sorted(p.stem for p in paths.formulae.glob("*.py")) if paths.formulae.is_dir() else []
    return ["wsgi", "asgi", *[f for f in found if f != "__init__"]]
