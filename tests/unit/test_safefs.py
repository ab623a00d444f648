"""safefs: root's file operations on trees a site or a repo wrote. Links are never followed,
files not made by the tree's writer are never changed. Runs as root (chown), like make test."""
from __future__ import annotations

import os
import stat

import pytest

from pws import safefs

NOBODY = 65534


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def outside(tmp_path):
    target = tmp_path / "outside"
    target.mkdir()
    (target / "victim").write_text("precious\n")
    os.chmod(target / "victim", 0o600)
    return target


def test_write_file_refuses_a_link_on_the_way(tmp_path, outside):
    (tmp_path / "tree").mkdir()
    os.symlink(outside, tmp_path / "tree" / "dir")
    with pytest.raises(safefs.UnsafePath):
        safefs.write_file(tmp_path / "tree" / "dir" / "victim", "owned\n")
    assert (outside / "victim").read_text() == "precious\n"


def test_write_file_replaces_a_link_instead_of_writing_through_it(tmp_path, outside):
    os.symlink(outside / "victim", tmp_path / "settings.py")
    safefs.write_file(tmp_path / "settings.py", "mine\n", 0o640)
    assert not os.path.islink(tmp_path / "settings.py")
    assert (tmp_path / "settings.py").read_text() == "mine\n"
    assert (outside / "victim").read_text() == "precious\n" and mode(outside / "victim") == 0o600


def test_read_file_refuses_a_link_and_caps_the_size(tmp_path, outside):
    os.symlink(outside / "victim", tmp_path / "requirements.txt")
    with pytest.raises(safefs.UnsafePath):
        safefs.read_file(tmp_path / "requirements.txt")
    assert safefs.read_text_or_empty(tmp_path / "requirements.txt") == ""
    (tmp_path / "big").write_bytes(b"x" * (safefs.DETECTION_LIMIT + 1))
    assert safefs.read_text_or_empty(tmp_path / "big") == ""


def test_seal_tree_never_follows_links_nor_changes_foreign_or_hard_linked_files(tmp_path, outside):
    outside_mode = mode(outside)
    tree = tmp_path / "app"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "mod.py").write_text("x = 1\n")
    (tree / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(tree / "run.sh", 0o700)
    os.symlink(outside, tree / "linkdir")
    os.symlink(outside / "victim", tree / "linkfile")
    os.link(outside / "victim", tree / "hardlink")
    (tree / "foreign").write_text("someone else's\n")
    os.chown(tree / "foreign", NOBODY, NOBODY)
    os.mkfifo(tree / "pipe")
    skipped = safefs.seal_tree(tree, 0, 0, dir_mode=0o750, file_mode=0o640, made_by=12345)
    assert sorted(os.path.basename(p) for p in skipped) == ["foreign", "hardlink", "pipe"]
    assert mode(outside) == outside_mode
    assert mode(outside / "victim") == 0o600  # neither through the link nor the hard link
    assert os.stat(tree / "foreign").st_uid == NOBODY
    assert mode(tree / "pkg") == 0o750 and mode(tree / "pkg" / "mod.py") == 0o640
    assert mode(tree / "run.sh") == 0o750  # still executable for the group that may read it
    assert not os.path.exists(tree / "pipe")


def test_copy_tree_skips_links_when_publishing(tmp_path, outside):
    src = tmp_path / "static"
    src.mkdir()
    (src / "style.css").write_text("body {}\n")
    os.symlink(outside / "victim", src / "leak")
    os.symlink(outside, src / "dir")
    skipped = safefs.copy_tree(src, tmp_path / "published", keep_links=False)
    assert sorted(os.path.basename(p) for p in skipped) == ["dir", "leak"]
    assert sorted(os.listdir(tmp_path / "published")) == ["style.css"]
    kept = safefs.copy_tree(src, tmp_path / "app", keep_links=True)
    assert kept == [] and os.readlink(tmp_path / "app" / "leak") == str(outside / "victim")


def test_seal_tree_seals_a_file_its_writer_hard_linked_from_its_own_cache(tmp_path):
    """uv hard-links a site's venv from the site's own cache: those files are the writer's
    and are sealed like any other (both links then name a root-owned, read-only file)."""
    writer = NOBODY
    cache, tree = tmp_path / "cache", tmp_path / "venv"
    cache.mkdir()
    tree.mkdir()
    (cache / "mod.py").write_text("x = 1\n")
    os.chown(cache / "mod.py", writer, writer)
    os.link(cache / "mod.py", tree / "mod.py")
    assert safefs.seal_tree(tree, 0, 0, dir_mode=0o750, file_mode=0o640, made_by=writer) == []
    st = os.stat(cache / "mod.py")
    assert (st.st_uid, st.st_mode & 0o777, st.st_nlink) == (0, 0o640, 2)
