"""The secrets dir taken back from an old layout, and secrets kept for kept data, on temp trees
(as the current user: the owner root gets in production is a parameter here)."""
import os
import stat

import pytest

from pws import safefs
from pws.secrets_store import DIR_MODE, FILE_MODE, keep_files, secured_dir

UID, GID = os.getuid(), os.getgid()


@pytest.fixture
def tree(tmp_path):
    base = tmp_path / "etc" / "pws" / "secrets"
    canary = tmp_path / "canary"
    canary.write_text("root's file\n")
    canary.chmod(0o644)
    return base, canary


def old_layout(base, canary):
    """As an old pws left it, after the site user planted links in its own dir."""
    site = base / "f"
    site.mkdir(parents=True, mode=0o700)
    (site / "secret_key").write_text("old-key\n")
    (site / "secret_key").chmod(0o600)
    (site / ".secret_key.pws-tmp").symlink_to(canary)
    (site / "env").symlink_to(canary)
    (site / "sub").mkdir()
    (site / "sub" / "x").write_text("x")
    os.mkfifo(site / "fifo")
    return site


def test_old_layout_is_taken_back(tree):
    base, canary = tree
    site = old_layout(base, canary)
    with secured_dir(base, "f", UID, GID, create=False) as fd:
        safefs.write_at(fd, "secret_key", b"new\n", FILE_MODE, UID, GID)
    assert sorted(os.listdir(site)) == ["secret_key"]  # links, dirs, fifos gone
    assert stat.S_IMODE(site.stat().st_mode) == DIR_MODE
    assert stat.S_IMODE((site / "secret_key").stat().st_mode) == FILE_MODE
    assert canary.read_text() == "root's file\n"
    assert stat.S_IMODE(canary.stat().st_mode) == 0o644
    assert stat.S_IMODE(base.stat().st_mode) == 0o711


def test_an_old_secret_is_rewritten_as_a_new_file(tree):
    base, canary = tree
    site = old_layout(base, canary)
    before = (site / "secret_key").stat().st_ino
    with secured_dir(base, "f", UID, GID, create=False):
        pass
    after = site / "secret_key"
    assert after.read_text() == "old-key\n" and stat.S_IMODE(after.stat().st_mode) == FILE_MODE
    assert after.stat().st_ino != before  # a writer's open fd no longer reaches it


def test_a_hard_linked_file_is_removed_not_rewritten(tree):
    base, canary = tree
    site = base / "f"
    site.mkdir(parents=True)
    os.link(canary, site / "secret_key")
    with secured_dir(base, "f", UID, GID, create=False):
        pass
    assert not (site / "secret_key").exists()
    assert canary.read_text() == "root's file\n" and stat.S_IMODE(canary.stat().st_mode) == 0o644


def test_a_link_in_place_of_the_site_dir_is_refused(tree):
    base, canary = tree
    base.mkdir(parents=True)
    (base / "f").symlink_to(canary.parent)
    with pytest.raises(safefs.UnsafePath):
        with secured_dir(base, "f", UID, GID, create=True):
            pass


def test_absent_dir_is_none_unless_created(tree):
    base, _ = tree
    with secured_dir(base, "f", UID, GID, create=False) as fd:
        assert fd is None
    with secured_dir(base, "f", UID, GID, create=True) as fd:
        assert fd is not None
    assert stat.S_IMODE((base / "f").stat().st_mode) == DIR_MODE


def test_kept_secrets_are_copied_root_only_and_never_overwritten(tree, tmp_path):
    base, _ = tree
    with secured_dir(base, "f", UID, GID, create=True) as fd:
        safefs.write_at(fd, "secret_key", b"k1\n", FILE_MODE, UID, GID)
        first = keep_files(fd, tmp_path / "kept" / "f", UID, GID)
        second = keep_files(fd, tmp_path / "kept" / "f", UID, GID)
    assert first == tmp_path / "kept" / "f" / "secrets"
    assert second == tmp_path / "kept" / "f" / "secrets.2"
    assert (first / "secret_key").read_text() == "k1\n"
    assert stat.S_IMODE(first.stat().st_mode) == 0o700
    assert stat.S_IMODE((first / "secret_key").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "kept").stat().st_mode) == 0o700
