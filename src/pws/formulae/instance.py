"""Flask's instance folder (docs/architecture.md): writable, persistent, outside the code.

Flask looks for it at `<the app's root>/instance` (Flask.auto_find_instance_path; no
environment variable moves it), which in a release is inside the sealed, read-only app/. So
each release gets a link there, made by root in its own root-owned tree:

    releases/ID/app/instance -> /srv/pws/NAME/data/instance   (the site's, 0700)

A project that ships its own instance/ (e.g. instance/config.py) has its files copied into
data/instance by the site user, each file only where data/instance has none yet: what is
there is the site's (the app may have written it) and is kept; pws says so when they differ.
Links in the project's instance/ are never followed nor copied; an `instance` that is a link
or a file is replaced by pws's link, never followed. Root never reads or writes data/.
"""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from .. import runas, safefs
from ..ui import printable

NAME = "instance"

# Run as the site user with Debian's python3 -I (no site code): seed data/instance from the
# release's instance/, file by file, never over an existing file, never through a link.
SEED = r"""
import os, sys
src, dest = sys.argv[1], sys.argv[2]
os.makedirs(dest, mode=0o700, exist_ok=True)

def same(path, data):
    try:
        with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
            return f.read() == data
    except OSError:
        return False

def copy(s, d, rel):
    for e in sorted(os.scandir(s), key=lambda e: e.name):
        r, t = rel + e.name, os.path.join(d, e.name)
        if e.is_symlink():
            print("link", r)
        elif e.is_dir(follow_symlinks=False):
            os.makedirs(t, mode=0o700, exist_ok=True)
            copy(e.path, t, r + "/")
        elif e.is_file(follow_symlinks=False):
            with open(os.open(e.path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
                data = f.read()
            if os.path.lexists(t):
                print("kept" if not same(t, data) else "same", r)
                continue
            fd = os.open(t, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with open(fd, "wb") as f:
                f.write(data)
            print("added", r)

if os.path.isdir(src) and not os.path.islink(src):
    copy(src, dest, "")
"""


def folder(ctx) -> Path:
    """The site's instance folder (its data/instance)."""
    return ctx.home / "data" / NAME


def link(ctx, app_root: Path) -> bool:
    """Make app_root/instance (in the sealed release) a link to data/instance, seeding that
    from the project's instance/ first; True if the release changed."""
    target = str(folder(ctx))
    with safefs.opened_dir(app_root) as fd:
        st = safefs.lstat_at(fd, NAME)
        if st is not None and stat.S_ISLNK(st.st_mode) and os.readlink(NAME, dir_fd=fd) == target:
            _seed(ctx, None)  # data/instance made if the site removed it
            return False
        is_dir = st is not None and stat.S_ISDIR(st.st_mode)
        _seed(ctx, app_root / NAME if is_dir else None)
        if is_dir:
            shutil.rmtree(NAME, dir_fd=fd)  # root's sealed tree, walked by fd: no link followed
        elif st is not None:
            what = "a link" if stat.S_ISLNK(st.st_mode) else "not a directory"
            ctx.ui.warn(f"the project's {NAME} is {what}: not followed, replaced by a link to "
                        f"{target}")
            safefs.unlink_at(fd, NAME)
        os.symlink(target, NAME, dir_fd=fd)
    ctx.ui.say(f"  instance folder: {target} (app.instance_path)")
    return True


def in_tree(app_root: Path, module: str) -> bool:
    """Whether the app's top-level module is in the project's tree (else it is imported from
    the venv, where the project was installed)."""
    top = module.split(".")[0]
    return (app_root / f"{top}.py").is_file() or (app_root / top).is_dir()


def link_installed(ctx, module: str) -> bool:
    """An app installed into the venv (a src/ layout): Flask looks in
    <venv>/var/<import name>-instance; that is linked to data/instance too, for the import
    name being the app's top-level package or its module (Flask(__name__) in either)."""
    venv = Path(os.path.realpath(ctx.venv))  # releases/ID/venv -> venvs/HASH: root's links
    safefs.make_dir(venv / "var", 0o750, 0, runas.ids(ctx.site.user)[1])
    changed = False
    with safefs.opened_dir(venv / "var") as fd:
        for name in dict.fromkeys([module.split(".")[0], module]):
            if safefs.lstat_at(fd, f"{name}-instance") is None:
                os.symlink(str(folder(ctx)), f"{name}-instance", dir_fd=fd)
                changed = True
    return changed


def _seed(ctx, project_instance: Path | None) -> None:
    """data/instance as the site user; the project's files added where it has none."""
    from ..venv import SYSTEM_PYTHON
    proc = runas.run_as(ctx.site.user, [SYSTEM_PYTHON, "-I", "-c", SEED,
                                        str(project_instance or "/nonexistent"), str(folder(ctx))],
                        env=runas.base_env(ctx.home), cwd=ctx.home,
                        problem=f"Could not make the instance folder {folder(ctx)}:",
                        fix=f"see that /srv/pws/{ctx.site.name}/data belongs to {ctx.site.user}.")
    for line in proc.stdout.splitlines():
        what, _, rel = line.partition(" ")
        shown = printable(rel)
        if what == "added":
            ctx.ui.say(f"  instance folder: {shown} from the project's {NAME}/")
        elif what == "kept":
            ctx.ui.warn(f"{folder(ctx)}/{shown} is kept (the site's own); the project's "
                        f"{NAME}/{shown} differs and is not used")
        elif what == "link":
            ctx.ui.warn(f"the project's {NAME}/{shown} is a link: not copied, not followed")
