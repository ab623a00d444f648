"""Deriving everything from site.toml (docs/architecture.md): gunicorn config, static files, units, vhost.

`apply_site` is the one code path used by mksite and `pws apply`; `rerender` is what a package
upgrade does (pws's own files only). Whatever runs a site's code runs as the site user.
"""
from __future__ import annotations

import shutil
import string
from dataclasses import dataclass

from . import pins, safefs, site as sitemod, users
from .build import SiteBuild
from .formulae import Context, Formula
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
    def render_gunicorn(self, site: Site, extra: dict[str, object] | None = None) -> str:
        template = string.Template((self.paths.templates / "gunicorn.conf.py").read_text())
        extra_lines = "".join(f"{key} = {value!r}\n" for key, value in (extra or {}).items())
        return template.substitute(**self._gunicorn_values(site)) + extra_lines

    def _gunicorn_values(self, site: Site) -> dict[str, object]:
        return dict(
            name=site.name,
            wsgi_app=repr(site.app),
            app_dir=repr(str(self.paths.app_dir(site.name))),
            bind=repr(f"unix:{self.paths.socket(site.name)}"),
            workers=site.workers,
            timeout=site.timeout,
            graceful_timeout=min(site.timeout, 30),
            proc_name=repr(f"pws-{site.name}"),
        )

    def write_gunicorn(self, ctx: Context, formula: Formula) -> bool:
        """Write the site's gunicorn config; True if it changed."""
        path = self.paths.gunicorn_conf(ctx.site.name)
        text = self.render_gunicorn(ctx.site, formula.gunicorn_settings(ctx))
        if path.exists() and path.read_text() == text:
            return False
        ctx.tx.on_rollback(f"remove {path}", lambda: remove_path(path))
        write_atomic(path, text, 0o644)
        return True

    def install_requirements(self, build: SiteBuild, formula: Formula, ctx: Context) -> None:
        site, app = ctx.site, build.app
        files = [app / "requirements.txt"] if (app / "requirements.txt").is_file() else []
        project = (app / "pyproject.toml").is_file()
        db = ctx.database
        packages = [*pins.SITE_BASE_REQUIREMENTS, *formula.requirements(ctx),
                    *(db.python_requirements() if db else []), *site.requirements]
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

    def sync_static(self, site: Site) -> None:
        """Copy each static dir of the project where nginx serves it from: no code there, and
        no link of the project's followed (they are skipped, with a warning)."""
        for url, directory in site.static.items():
            src = self.paths.app_dir(site.name) / directory
            dest = static_target(self.paths, site.name, url)
            safefs.make_dir(dest.parent, 0o755, 0, 0)
            shutil.rmtree(dest, ignore_errors=True)  # fd-based: follows no link
            if not src.is_dir() or src.is_symlink():
                safefs.make_dir(dest, 0o755, 0, 0)
                self.ui.warn(f"static dir {src} does not exist; {url} serves an empty dir.")
                continue
            for path in safefs.copy_tree(src, dest, keep_links=False)[:10]:
                self.ui.warn(f"not published (links and special files never are): {path}")

    def make_site_dirs(self, site: Site) -> None:
        """The home root-owned; media/ and data/ the app's own (the only dirs it writes)."""
        uid, gid = ids(site.user)
        safefs.make_dir(self.paths.site_home(site.name), 0o755, 0, gid)
        for sub, mode in (("media", 0o755), ("data", 0o700)):
            safefs.make_dir(self.paths.site_home(site.name) / sub, mode, uid, gid)

    def build(self, site: Site, formula: Formula, ctx: Context) -> None:
        """Re-install the venv's requirements and recompile, as the site user (`pws apply`)."""
        with SiteBuild(self.paths, site, self.ui, lambda: self.services.processes(site.name)) as build:
            build.create_venv()
            self.install_requirements(build, formula, ctx)
            build.compile_app()

    # --- the one code path
    def apply_site(self, site: Site, formula: Formula, tx: Transaction, *, fresh: bool) -> None:
        """Derive everything from site; fresh (mksite: built already) starts it anew."""
        ctx = Context(site, self.paths, self.ui, tx)
        if not fresh:
            self.build(site, formula, ctx)
            _restrict_database(ctx)
        self.make_site_dirs(site)
        self.write_env(ctx, formula)
        formula.configure(ctx)
        sitemod.save(self.paths, site)  # the formula may have filled in derived fields
        formula.check_app(ctx)
        formula.deploy_hooks(ctx)
        # What the checks and hooks ran (the site's code) may have left a daemon: not past here.
        users.kill_strays(site.user, self.services.processes(site.name))
        self.sync_static(site)
        config_changed = self.write_gunicorn(ctx, formula)
        tx.on_rollback("stop the site's service", lambda: self.services.uninstall(site.name))
        with self.ui.step("starting gunicorn" if fresh else "reloading gunicorn"):
            self.services.install(site.name)
            if fresh:
                self.services.start(site.name)
            elif config_changed:
                self.services.reload_config(site.name)
            else:
                self.services.reload(site.name)
        tx.on_rollback("remove the nginx vhost", lambda: self.web.remove(site.name))
        with self.ui.step("validating and reloading nginx"):
            self.web.install(site)

    def rerender(self, site: Site, formula: Formula) -> str:
        """After a pws upgrade: pws's own files only (environment, framework settings, gunicorn
        config, units, vhost), then the gentlest restart that makes them count. Never pip,
        migrations or collectstatic: an upgrade of pws does not change a site's code or data.
        Returns what was done, for the record."""
        ctx = Context(site, self.paths, self.ui, Transaction())
        _restrict_database(ctx)
        env_changed = self.write_env(ctx, formula)
        settings_changed = bool(formula.configure(ctx))
        config_changed = self.write_gunicorn(ctx, formula)
        self.sync_static(site)  # root copies from the sealed tree: no site code runs
        self.services.install(site.name)
        self.web.install(site)
        if env_changed or settings_changed:
            self.services.restart(site.name)  # requests wait in the socket meanwhile
            return "restarted (environment or settings changed)"
        if config_changed:
            self.services.reload_config(site.name)
            return "reloaded (gunicorn config changed)"
        return "unchanged"


def _restrict_database(ctx: Context) -> None:
    """Databases made by older versions let every role connect: only the owner may."""
    db = ctx.database
    if db is not None and db.kind == "postgresql":
        db.restrict_connect(ctx.site)
