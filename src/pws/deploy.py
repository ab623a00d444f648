"""Deriving everything from site.toml (DESIGN §1): gunicorn config, static files, units, vhost.

`apply_site` is the one code path used by mksite, `pws apply` and the package upgrade.
"""
from __future__ import annotations

import os
import shutil
import string
import subprocess
from dataclasses import dataclass
from pathlib import Path

from . import pins, site as sitemod, users, venv
from .formulae import Context, Formula
from .fsutil import remove_path, write_atomic
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

    def install_requirements(self, site: Site, formula: Formula, ctx: Context) -> None:
        app = self.paths.app_dir(site.name)
        files = [app / "requirements.txt"] if (app / "requirements.txt").is_file() else []
        project = app if (app / "pyproject.toml").is_file() else None
        db = ctx.database
        packages = [*pins.SITE_BASE_REQUIREMENTS, *formula.requirements(ctx),
                    *(db.python_requirements() if db else []), *site.requirements]
        with self.ui.step(f"installing {len(packages)} package(s)"
                          f"{' + the project requirements' if files or project else ''} into the venv"):
            venv.pip_install(self.paths.venv_dir(site.name), self.paths.pip_cache,
                             packages=packages, requirement_files=files, project=project)

    def write_env(self, ctx: Context, formula: Formula) -> None:
        env = {"PWS_SITE": ctx.site.name}
        if ctx.database:
            env["DATABASE_URL"] = ctx.database.settings(ctx.site)["URL"]
        env.update(formula.env(ctx))
        ctx.secrets.write_env(env)

    def sync_static(self, site: Site) -> None:
        """Copy each static dir of the project where nginx serves it from (no code there)."""
        for url, directory in site.static.items():
            src = self.paths.app_dir(site.name) / directory
            dest = static_target(self.paths, site.name, url)
            if dest.exists():
                shutil.rmtree(dest)
            if src.is_dir():
                shutil.copytree(src, dest, symlinks=False)
            else:
                dest.mkdir(parents=True)
                self.ui.warn(f"static dir {src} does not exist; {url} serves an empty dir.")
            _chmod_tree(dest, 0o755, 0o644)

    def compile_bytecode(self, site: Site) -> None:
        """The app dir is read-only to the site user, so compile it now, not at every start."""
        app = self.paths.app_dir(site.name)
        subprocess.run([str(venv.python(self.paths.venv_dir(site.name))), "-m", "compileall", "-q",
                        "-x", r"/(\.git|node_modules|venv|\.venv)/", str(app)],
                       capture_output=True, check=False)

    def set_permissions(self, site: Site) -> None:
        """Source root-owned and readable by the site user only; media/ and data/ its own."""
        uid, gid = users.ids(site.user)
        home = self.paths.site_home(site.name)
        os.chown(home, 0, gid)
        os.chmod(home, 0o755)
        _chown_tree(self.paths.app_dir(site.name), 0, gid)
        _chmod_tree(self.paths.app_dir(site.name), 0o750, 0o640)
        for sub, mode in (("media", 0o755), ("data", 0o700)):
            path = home / sub
            path.mkdir(exist_ok=True)
            os.chown(path, uid, gid)
            os.chmod(path, mode)

    # --- the one code path
    def apply_site(self, site: Site, formula: Formula, tx: Transaction, *, fresh: bool) -> None:
        """Derive everything from site; fresh (mksite) installs nothing twice and starts anew."""
        ctx = Context(site, self.paths, self.ui, tx)
        if not fresh:
            self.install_requirements(site, formula, ctx)
        self.write_env(ctx, formula)
        formula.configure(ctx)
        sitemod.save(self.paths, site)  # the formula may have filled in derived fields
        self.compile_bytecode(site)
        self.set_permissions(site)
        formula.check_app(ctx)
        formula.deploy_hooks(ctx)
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


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid, follow_symlinks=False)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            os.chown(os.path.join(dirpath, name), uid, gid, follow_symlinks=False)


def _chmod_tree(root: Path, dir_mode: int, file_mode: int) -> None:
    os.chmod(root, dir_mode)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            os.chmod(os.path.join(dirpath, name), dir_mode)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, file_mode | ((dir_mode & 0o111) if mode & 0o100 else 0))
