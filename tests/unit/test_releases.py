"""The release store (releases.py) and the venv key (deploy.venv_key), on a private tree."""
import json
import os

import pytest

from pws.deploy import venv_key
from pws.paths import Paths
from pws.releases import BUILDING, FAILED, READY, NoRelease, Releases, parse_id


@pytest.fixture
def store(tmp_path):
    paths = Paths(root=tmp_path)
    paths.site_home("blog").mkdir(parents=True)
    return Releases(paths, "blog")


def made(store, state=READY, venv="venvs/aaaa"):
    release = store.begin(source="/src", by="root")
    release.app.mkdir()
    store.link_venv(release, venv)
    release.meta["state"] = state
    store.save(release)
    return release


def complete_venv(store, key):
    venv = store.venv_dir(key)
    (venv / "bin").mkdir(parents=True)
    store.mark_venv_complete(venv, 0)
    return venv


def test_ids_are_sequential_and_records_round_trip(store):
    first, second = made(store), made(store)
    assert (first.id, second.id) == (1, 2)
    again = store.get(2)
    assert again.meta["source"] == "/src" and again.meta["by"] == "root"
    assert again.venv == store.home / "venvs/aaaa"
    assert os.readlink(again.dir / "venv") == "../../venvs/aaaa"
    with pytest.raises(NoRelease, match="has no release 9"):
        store.get(9)


def test_switch_replaces_the_link_in_one_rename(store):
    first, second = made(store), made(store)
    assert store.current() is None
    store.switch(first)
    assert os.readlink(store.home / "current") == "releases/1"
    store.switch(second)
    assert os.readlink(store.home / "current") == "releases/2"
    assert store.live().id == 2
    assert [p.name for p in store.home.iterdir() if p.name.startswith(".current")] == []


def test_live_without_a_release_names_the_fix(store):
    with pytest.raises(NoRelease, match="pws deploy blog --from PATH"):
        store.live()


def test_a_record_that_is_not_json_is_not_a_release(store):
    release = made(store)
    (release.dir / "release.json").write_text("{not json")
    assert store.all() == []


def test_a_failed_release_keeps_its_record_only(store):
    release = made(store, BUILDING)
    (release.app / "code.py").write_text("x")
    store.record_failure(release, "it did not import")
    again = store.get(release.id)
    assert again.state == FAILED and again.meta["reason"] == "it did not import"
    assert not again.app.exists()


def test_leftovers_of_an_interrupted_deploy_are_cleaned(store):
    complete_venv(store, "aaaa")
    live = made(store)
    store.switch(live)
    half = made(store, BUILDING, venv="venvs/bbbb")
    (store.venv_dir("bbbb") / "bin").mkdir(parents=True)  # never marked complete
    assert store.clean_leftovers() == [half.id]
    assert [r.id for r in store.all()] == [live.id]
    assert not store.venv_dir("bbbb").exists() and store.venv_dir("aaaa").exists()


def test_the_live_release_is_never_cleaned_even_if_building(store):
    live = made(store, BUILDING)
    store.switch(live)
    assert store.clean_leftovers() == []


def test_prune_keeps_the_live_release_n_others_and_the_newest_failure(store):
    complete_venv(store, "aaaa")
    complete_venv(store, "old0")
    ids = [made(store, venv="venvs/old0" if i == 0 else "venvs/aaaa").id for i in range(6)]
    failures = [made(store, FAILED).id for _ in range(2)]
    store.switch(store.get(ids[2]))
    removed = store.prune(keep=2)
    kept = [r.id for r in store.all()]
    assert kept == [ids[2], ids[4], ids[5], failures[1]], kept
    assert sorted(removed) == sorted([ids[0], ids[1], ids[3], failures[0]])
    assert not store.venv_dir("old0").exists()  # no release uses it any more
    assert store.venv_dir("aaaa").exists()


def test_a_site_made_before_releases_becomes_release_1_in_place(store):
    home = store.home
    (home / "app").mkdir()
    (home / "app" / "hello.py").write_text("x")
    (home / "venv" / "bin").mkdir(parents=True)
    (home / "static" / "copies").mkdir(parents=True)
    release = store.adopt_legacy()
    assert release.id == 1 and store.current_id() == 1
    assert (release.app / "hello.py").read_text() == "x"
    assert (home / "current" / "venv" / "bin").is_dir()  # the venv stays where it was
    assert (release.static / "copies").is_dir()
    assert not (home / "app").exists()
    assert json.loads((release.dir / "release.json").read_text())["state"] == READY
    assert store.adopt_legacy() is None  # once


def test_release_ids_are_numbers():
    assert parse_id("12") == 12
    with pytest.raises(Exception, match="not a release id"):
        parse_id("../1")


def test_venv_key_depends_on_what_is_installed_and_nothing_else(tmp_path):
    req = tmp_path / "requirements.txt"
    req.write_text("django==5.2\n")
    base = venv_key(["gunicorn==27", "flask==3"], [req], None)
    assert venv_key(["flask==3", "gunicorn==27"], [req], None) == base  # order is not content
    req.write_text("django==5.2.1\n")
    assert venv_key(["gunicorn==27", "flask==3"], [req], None) != base
    assert venv_key(["gunicorn==27"], [req], None) != venv_key(["gunicorn==28"], [req], None)


def test_venv_key_of_an_installed_project_covers_its_code_without_following_links(tmp_path):
    tree = tmp_path / "app"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "mod.py").write_text("A = 1\n")
    (tree / "secret").symlink_to("/etc/shadow")
    first = venv_key([], [], tree)
    (tree / "pkg" / "mod.py").write_text("A = 2\n")
    second = venv_key([], [], tree)
    assert second != first
    (tree / "secret").unlink()
    (tree / "secret").symlink_to("/etc/passwd")  # a link counts by where it points
    assert venv_key([], [], tree) != second
