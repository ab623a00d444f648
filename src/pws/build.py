"""The build phase of a release (docs/security.md): its app/ (and its venv, when the release
gets a new one) are handed to the site user, everything that runs the project's or its
dependencies' code (venv creation, uv or pip, sdist and project builds, compileall, django-admin)
runs as that user, then root seals the trees again: root:pws-NAME, dirs 0750, files 0640
(0750 if executable), walked by fd, links never followed. A venv shared with the live release
is never handed over."""
from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from pathlib import Path

from . import safefs, users, venv
from .paths import Paths
from .releases import Release
from .runas import base_env, ids, run_as
from .site import Site
from .ui import UI

# Not compiled: where a project keeps what is not its code.
COMPILE_EXCLUDE = r"/(\.git|node_modules|venv|\.venv)/"


class SiteBuild:
    """`with SiteBuild(paths, site, release, ui, keep, new_venv=...) as build:` — site-owned
    trees inside, sealed after."""

    def __init__(self, paths: Paths, site: Site, release: Release, ui: UI,
                 keep: Callable[[], set[int]], *, new_venv: bool):
        """keep(): the pids of the site's running app, which the build must not kill."""
        self.paths, self.site, self.ui, self.keep = paths, site, ui, keep
        self.uid, self.gid = ids(site.user)
        self.home = paths.site_home(site.name)
        self.app = release.app
        self.venv = release.venv
        self.trees = [self.app] + ([self.venv] if new_venv else [])
        self.tmp = paths.build_dir(site.name)
        self.cache = paths.site_pip_cache(site.name)

    def __enter__(self) -> "SiteBuild":
        try:
            self._hand_over()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _hand_over(self) -> None:
        for shared in (self.paths.pip_cache, self.tmp.parent):
            safefs.make_dir(shared, 0o755, 0, 0)
        safefs.make_dir(self.cache, 0o700, self.uid, self.gid)
        safefs.make_dir(self.tmp, 0o700, self.uid, self.gid)
        for tree in self.trees:  # root-owned now: handing them over follows nothing
            safefs.make_dir(tree, 0o750, self.uid, self.gid)
            self._report(safefs.seal_tree(tree, self.uid, self.gid, dir_mode=0o750,
                                          file_mode=0o640))

    def __exit__(self, *exc) -> None:
        """Sealed whatever happened: a failed build must not leave the trees to the site, and
        nothing the build started (a daemon from a setup.py) may keep a hand on them."""
        killed = users.kill_strays(self.site.user, self.keep())
        if killed:
            self.ui.warn(f"killed {killed} process(es) the build of {self.site.name} left running")
        with self.ui.step("sealing the code and the venv"):
            for tree in self.trees:
                with contextlib.suppress(FileNotFoundError):
                    self._report(safefs.seal_tree(tree, 0, self.gid, dir_mode=0o750,
                                                  file_mode=0o640, made_by=self.uid))
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _report(self, skipped: list[str]) -> None:
        for path in skipped[:10]:
            self.ui.warn(f"left alone (a link to elsewhere, a hard link or a special file): {path}")

    # --- what runs as the site user
    def run(self, argv: list[str], *, problem: str, fix: str = "", cwd: Path | None = None):
        return run_as(self.site.user, argv, env=base_env(self.home, self.venv),
                      cwd=cwd or self.tmp, problem=problem, fix=fix)

    def create_venv(self) -> None:
        if not venv.python(self.venv).exists():
            venv.create(self.venv, self.site.user, self.home)

    def install(self, packages=(), requirement_files=(), project: bool = False) -> None:
        """uv (or pip) install as the site user; the project is built from a scratch copy, so its
        build/ and *.egg-info never land in app/."""
        source = None
        if project:
            source = self.tmp / "project"
            self.run(["cp", "-a", "--no-preserve=ownership", f"{self.app}/.", str(source)],
                     problem="Could not copy the project for its build.")
        venv.pip_install(self.venv, user=self.site.user, home=self.home, cache=self.cache,
                         tmp=self.tmp, packages=packages, requirement_files=requirement_files,
                         project=source, ui=self.ui)

    def compile_app(self) -> None:
        """app/ is read-only to the running site: compile its bytecode now, as the site user."""
        # A file that does not compile (a Python 2 script in docs/) is the project's business:
        # the exit status is not checked, as Python would only skip its bytecode.
        # checked-hash: files root writes after this (the framework's settings, e.g. Django's
        # pws_settings.py) can keep their size and mtime second; a timestamp check would then
        # import stale bytecode. A hash check never does.
        with self.ui.step("compiling the bytecode"):
            self.run([str(venv.python(self.venv)), "-I", "-m", "compileall", "-q",
                      "--invalidation-mode", "checked-hash", "-x", COMPILE_EXCLUDE,
                      str(self.app)], problem="")
