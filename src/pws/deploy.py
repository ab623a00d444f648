"""Deriving everything from site.toml (docs/architecture.md): gunicorn config, static files,
units, vhost; and building a release of the site's code.

`build_release` is the one way code becomes a release (mksite, pws deploy, pws apply);
`publish` writes what serves it; `rerender` is what a package upgrade does (pws's own files
only). Whatever runs a site's code runs as the site user.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import pins, processes, safefs, scopes, site as sitemod, users
from .build import SiteBuild
from .releases import READY, Release, Releases
from .formulae import asgi
from .formulae import AppRelative, Context, Formula, run_release_commands
from .fsutil import remove_path, write_atomic
from .runas import ids
from .nginx.server import NginxServer, static_target
from .paths import Paths
from .services import ServiceManager
from .site import Site
from .transaction import Transaction
from .ui import UI


@dataclass
class Deployer:
    paths: Paths
    ui: UI
    web: NginxServer
    services: ServiceManager

    # --- files derived from the site
    def render_gunicorn(self, site: Site, formula: Formula,
                        extra: dict[str, object] | None = None) -> str:
        template = string.Template((self.paths.templates / "gunicorn.conf.py").read_text())
        extra_lines = "".join(
            f"{key} = {value.render() if isinstance(value, AppRelative) else repr(value)}\n"
            for key, value in (extra or {}).items())
        return template.substitute(**self._gunicorn_values(site, formula)) + extra_lines

    def _gunicorn_values(self, site: Site, formula: Formula) -> dict[str, object]:
        return dict(
            name=site.name,
            wsgi_app=repr(site.app),
            current=repr(str(self.paths.current(site.name))),
            project_subdir=repr(formula.project_subdir(site)),
            env_file=repr(str(self.paths.secrets_dir(site.name) / "env")),
            bind=repr(f"unix:{self.paths.socket(site.name)}"),
            workers=site.workers,
            timeout=site.timeout,
            graceful_timeout=min(site.timeout, 30),
            proc_name=repr(f"pws-{site.name}"),
        )

    def write_gunicorn(self, ctx: Context, formula: Formula) -> bool:
        """Write the site's gunicorn config; True if it changed."""
        path = self.paths.gunicorn_conf(ctx.site.name)
        extra = {**asgi.gunicorn_settings(ctx.site), **formula.gunicorn_settings(ctx)}
        text = self.render_gunicorn(ctx.site, formula, extra)
        if asgi.is_asgi(ctx.site):
            text += (self.paths.templates / "gunicorn-asgi.conf.py").read_text()
        before = path.read_text() if path.exists() else None
        if before == text:
            return False
        ctx.tx.on_rollback(f"restore {path}", lambda: write_atomic(path, before, 0o644)
                           if before is not None else remove_path(path))
        write_atomic(path, text, 0o644)
        return True

    def requirements(self, formula: Formula, ctx: Context) -> tuple[list[str], list[Path], bool]:
        """What the release's venv gets: packages, requirement files, and whether the project
        itself is installed (it has a pyproject.toml)."""
        app, db = ctx.app_dir, ctx.database
        files = [app / "requirements.txt"] if (app / "requirements.txt").is_file() else []
        packages = [*pins.SITE_BASE_REQUIREMENTS, *asgi.requirements(ctx.site),
                    *formula.requirements(ctx),
                    *(db.python_requirements() if db else []), *ctx.site.requirements]
        return packages, files, (app / "pyproject.toml").is_file()

    def install_requirements(self, build: SiteBuild, formula: Formula, ctx: Context) -> None:
        packages, files, project = self.requirements(formula, ctx)
        with self.ui.step(f"installing {len(packages)} package(s)"
                          f"{' + the project requirements' if files or project else ''} into the venv"):
            build.install(packages, files, project=project)

    def write_env(self, ctx: Context, formula: Formula) -> bool:
        """The site's environment file; True if it changed (the app must restart to see it)."""
        env = {"PWS_SITE": ctx.site.name}
        if ctx.database:
            env["DATABASE_URL"] = ctx.database.settings(ctx.site)["URL"]
        env.update(formula.env(ctx))
        before = ctx.site_env()
        ctx.secrets.write_env(env)
        return before != ctx.site_env()

    def sync_static(self, site: Site, release: Release) -> None:
        """Copy each static dir of the release's code where nginx serves it from (the release's
        static/copies/SLUG): no code there, and no link of the project's followed (they are
        skipped, with a warning)."""
        for url, directory in site.static.items():
            src = release.app / directory
            dest = static_target(release.static, url)
            safefs.make_dir(dest.parent, 0o755, 0, 0)
            shutil.rmtree(dest, ignore_errors=True)  # fd-based: follows no link
            if not src.is_dir() or src.is_symlink():
                safefs.make_dir(dest, 0o755, 0, 0)
                self.ui.warn(f"static dir {directory} does not exist; {url} serves an empty dir.")
                continue
            for path in safefs.copy_tree(src, dest, keep_links=False)[:10]:
                self.ui.warn(f"not published (links and special files never are): {path}")

    def make_site_dirs(self, site: Site) -> None:
        """The home root-owned; media/ and data/ the app's own (the only dirs it writes)."""
        uid, gid = ids(site.user)
        safefs.make_dir(self.paths.site_home(site.name), 0o755, 0, gid)
        for sub, mode in (("media", 0o755), ("data", 0o700)):
            safefs.make_dir(self.paths.site_home(site.name) / sub, mode, uid, gid)

    # --- releases
    def new_release(self, site: Site, tx: Transaction, source: str) -> Release:
        """The record of a release about to be built (state building), removed if tx fails."""
        releases = Releases(self.paths, site.name)
        release = releases.begin(source=source, by=_caller())
        tx.on_rollback(f"discard release {release.id}", lambda: releases.discard(release))
        releases.save(release)
        return release

    def build_release(self, site: Site, formula: Formula, tx: Transaction, release: Release, *,
                      fill: Callable[[Release], None], new_project=None) -> None:
        """Build release (from new_release) beside the live one: fill(release) puts the code
        in its app/; then its venv (shared when the requirements are the same), bytecode, the
        framework's settings, the app's import check and the formula's release steps (migrate,
        collectstatic), static copies. Ready to be switched to; nothing live has changed (but
        the database, by the migrations). What runs as the site user here runs within its
        owner's limits (scopes)."""
        with scopes.confined(site.user, site.limits):
            self._build_release(site, formula, tx, release, fill=fill, new_project=new_project)

    def _build_release(self, site: Site, formula: Formula, tx: Transaction, release: Release, *,
                       fill: Callable[[Release], None], new_project=None) -> None:
        releases = Releases(self.paths, site.name)
        safefs.make_dir(release.static, 0o755, 0, 0)
        fill(release)
        ctx = Context(site, self.paths, self.ui, tx, release)
        keep = lambda: self.services.processes(site.name)  # noqa: E731 the live app stays
        venv_rel = self._venv_for(releases, release, formula, ctx)
        new_venv = not releases.venv_complete(release.venv)
        if new_venv:
            shutil.rmtree(release.venv, ignore_errors=True)  # an interrupted build's
            safefs.make_dir(release.venv.parent, 0o755, 0, 0)
        with SiteBuild(self.paths, site, release, self.ui, keep, new_venv=new_venv) as build:
            if new_venv:
                with self.ui.step("creating the venv"):
                    build.create_venv()
                if new_project is not None:
                    new_project(ctx)
                self.install_requirements(build, formula, ctx)
            else:
                self.ui.say(f"  venv unchanged: {venv_rel}")
            build.compile_app()
        site.check()  # a new project has just named its app
        if new_venv:
            releases.mark_venv_complete(release.venv, ids(site.user)[1])
        self._release_steps(site, formula, ctx, keep)
        self.sync_static(site, release)
        release.meta["state"] = READY
        releases.save(release)

    def _venv_for(self, releases: Releases, release: Release, formula: Formula,
                  ctx: Context) -> str:
        """Link the release to the venv its requirements hash to (releases/ID/venv)."""
        packages, files, project = self.requirements(formula, ctx)
        key = venv_key(packages, files, release.app if project or _refers(files) else None)
        venv_rel = f"venvs/{key}"
        releases.link_venv(release, venv_rel)
        releases.save(release)
        return venv_rel

    def _release_steps(self, site: Site, formula: Formula, ctx: Context, keep) -> None:
        self.make_site_dirs(site)
        self.write_env(ctx, formula)
        formula.configure(ctx)
        sitemod.save(self.paths, site)  # the formula may have filled in derived fields
        with self.ui.step("checking that the app imports"):
            formula.check_app(ctx)
            if asgi.is_asgi(site) and formula.name != "asgi":  # e.g. Django's asgi.py
                asgi.check(ctx, ctx.app_dir / formula.project_subdir(site))
        formula.deploy_hooks(ctx)
        self._procfile(ctx)
        run_release_commands(formula, ctx)
        # What the checks and hooks ran (the site's code) may have left a daemon: not past here.
        users.kill_strays(site.user, keep())

    def _procfile(self, ctx: Context) -> None:
        """The project's Procfile, recorded with the release: its processes run beside the
        site's own, its release command runs with the release commands."""
        procs, release_commands, notes = processes.read_procfile(ctx.app_dir)
        for note in notes:
            self.ui.say(f"  {note}")
        ctx.release.meta["procfile"] = procs
        ctx.release.meta["procfile_release"] = release_commands

    def publish(self, site: Site, formula: Formula, tx: Transaction) -> bool:
        """gunicorn config, units and vhost for the site (whichever release is live); True if
        the gunicorn config changed."""
        ctx = Context(site, self.paths, self.ui, tx)
        changed = self.write_gunicorn(ctx, formula)
        self.services.set_limits(site.name, site.limits)
        self.services.install(site.name)
        if not self.paths.vhost(site.name).exists():
            tx.on_rollback("remove the nginx vhost", lambda: self.web.remove(site.name))
        with self.ui.step("validating and reloading nginx"):
            self.web.install(site)
        return changed

    def rerender(self, site: Site, formula: Formula) -> str:
        """After a pws upgrade: pws's own files only (environment, framework settings, gunicorn
        config, units, vhost), then the gentlest restart that makes them count. Never pip,
        migrations or collectstatic: an upgrade of pws does not change a site's code or data.
        Returns what was done, for the record."""
        releases = Releases(self.paths, site.name)
        adopted = releases.adopt_legacy()
        live = releases.live()
        ctx = Context(site, self.paths, self.ui, Transaction(), live)
        _restrict_database(ctx)
        env_changed = self.write_env(ctx, formula)
        settings_changed = bool(formula.configure(ctx))
        config_changed = self.write_gunicorn(ctx, formula)
        self.sync_static(site, live)  # root copies from the sealed tree: no site code runs
        self.services.install(site.name)
        self.web.install(site)
        if adopted:
            # Its gunicorn was started by a pws before releases, whose config cannot hand
            # the socket to a new master: a restart (requests wait in the socket).
            self.services.restart(site.name)
            return "restarted into release 1 (made from the site's tree)"
        if env_changed or settings_changed or config_changed:
            self.services.switch(site.name)  # a new master, old one retired: no request lost
            return "switched to a new master (environment, settings or config changed)"
        return "unchanged"


def venv_key(packages: list[str], files: list[Path], tree: Path | None) -> str:
    """What makes two venvs the same: the interpreter, the packages, the requirement files'
    contents, and (when the project itself is installed, or its requirements name local
    files) the whole code tree."""
    digest = hashlib.sha256()
    digest.update(f"{os.path.realpath(_python())} {sys.version}\n".encode())
    for package in sorted(packages):
        digest.update(f"pkg {package}\n".encode())
    for path in files:
        digest.update(f"file {path.name}\n".encode() + (safefs.read_file(path) or b""))
    if tree is not None:
        _hash_tree(digest, tree)
    return digest.hexdigest()[:16]


def _python() -> str:
    from .venv import SYSTEM_PYTHON
    return SYSTEM_PYTHON


def _refers(files: list[Path]) -> bool:
    """Whether a requirements file names other files or local paths (then they count too)."""
    for path in files:
        for line in safefs.read_text_or_empty(path).splitlines():
            if line.strip().startswith(("-r", "-c", "-e", ".", "/", "file:", "--requirement",
                                        "--constraint", "--editable")):
                return True
    return False


def _hash_tree(digest, root: Path) -> None:
    """Names, link targets and contents under root (a root-made copy: walked without
    following links)."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames) + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            path = Path(dirpath) / name
            digest.update(str(path.relative_to(root)).encode() + b"\0")
            if path.is_symlink():
                digest.update(b"-> " + os.readlink(path).encode())
            else:
                digest.update(safefs.read_file(path) or b"")


def _caller() -> str:
    """Who asked for the release: the admin behind sudo, else the user running pws."""
    import pwd
    return os.environ.get("SUDO_USER") or pwd.getpwuid(os.getuid()).pw_name


def _restrict_database(ctx: Context) -> None:
    """Databases made by older versions let every role connect: only the owner may."""
    db = ctx.database
    if db is not None and db.kind == "postgresql":
        db.restrict_connect(ctx.site)
