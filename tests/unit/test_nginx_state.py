"""The recording writer and the B/W/C verdicts, on temp trees."""
import os

import pytest

from pws.nginx import compare
from pws.nginx.state import NginxState, SnapshotError
from pws.paths import Paths


@pytest.fixture
def state(tmp_path):
    nginx = tmp_path / "etc" / "nginx"
    (nginx / "sites-available").mkdir(parents=True)
    (nginx / "sites-enabled").mkdir()
    (nginx / "nginx.conf").write_text("events {}\nhttp { include sites-enabled/*; }\n")
    (nginx / "sites-available" / "default").write_text("server { listen 80 default_server; }\n")
    os.symlink("/etc/nginx/sites-available/default", nginx / "sites-enabled" / "default")
    return NginxState(Paths(root=tmp_path))


def test_first_write_takes_the_base_snapshot_once(state):
    vhost = state.nginx / "sites-available" / "pws-a.conf"
    state.write_file(vhost, "one\n")
    base = state.base()
    assert "sites-available/pws-a.conf" not in base
    assert base["sites-enabled/default"].digest == "/etc/nginx/sites-available/default"
    state.write_file(vhost, "two\n")
    assert state.base() == base
    assert not state.ensure_snapshot()


def test_each_write_is_recorded_with_what_pws_left(state):
    vhost = state.nginx / "sites-available" / "pws-a.conf"
    link = state.nginx / "sites-enabled" / "pws-a.conf"
    state.write_file(vhost, "server {}\n", 0o640)
    state.symlink(link, "../sites-available/pws-a.conf")
    written = state.written()
    assert written["sites-available/pws-a.conf"].mode == "0640"
    assert written["sites-enabled/pws-a.conf"].digest == "../sites-available/pws-a.conf"
    assert (state.dir / "written" / "sites-available" / "pws-a.conf").read_text() == "server {}\n"
    state.remove(link)
    assert state.written()["sites-enabled/pws-a.conf"].type == "-"
    assert not link.is_symlink()


def test_writes_without_a_base_are_refused(state):
    state.write_file(state.nginx / "pws-x", "x")
    (state.dir / "base.manifest").unlink()
    with pytest.raises(SnapshotError, match="no base snapshot"):
        state.write_file(state.nginx / "pws-y", "y")


CASES = [
    # (what pws does, what the admin does after, verdict)
    ("create", None, "created by pws"),
    ("create", "edit", "created by pws, then edited by the admin"),
    ("create", "delete", "created by pws, since put back as it was"),
    ("change", None, "changed by pws"),
    ("change", "edit", "changed by pws, then edited by the admin"),
    ("remove", None, "removed by pws"),
    ("remove", "recreate", "removed by pws, then edited by the admin"),
    ("link", None, "created by pws"),
    ("link", "relink", "created by pws, then edited by the admin"),
    (None, "edit-admin-file", "changed by the admin"),
]


@pytest.mark.parametrize("pws_action, admin_action, verdict", CASES)
def test_three_way_verdicts(state, pws_action, admin_action, verdict):
    state.ensure_snapshot()
    sa = state.nginx / "sites-available"
    target = {"create": sa / "pws-a.conf", "change": sa / "default", "remove": sa / "default",
              "link": state.nginx / "sites-enabled" / "pws-a.conf", None: sa / "default"}[pws_action]
    if pws_action in ("create", "change"):
        state.write_file(target, "pws\n")
    elif pws_action == "remove":
        state.remove(target)
    elif pws_action == "link":
        state.symlink(target, "../sites-available/pws-a.conf")
    if admin_action in ("edit", "recreate", "edit-admin-file"):
        target.write_text("admin\n")
    elif admin_action == "delete":
        target.unlink()
    elif admin_action == "relink":
        target.unlink()
        os.symlink("../sites-available/default", target)
    rel = os.path.relpath(target, state.nginx)
    verdicts = {s.path: s.verdict for s in compare.changed(state)}
    assert verdicts == {rel: verdict}


def test_mode_change_by_admin_is_seen(state):
    state.ensure_snapshot()
    os.chmod(state.nginx / "nginx.conf", 0o600)
    assert [s.verdict for s in compare.changed(state)] == ["changed by the admin"]
    assert "# mode/owner: 0644" in compare.unified_diff(state)


def test_diff_shows_content_both_ways(state):
    state.write_file(state.nginx / "sites-available" / "pws-a.conf", "server { pws; }\n")
    (state.nginx / "nginx.conf").write_text("events {}\nhttp { include sites-enabled/*; gzip on; }\n")
    diff = compare.unified_diff(state)
    assert "+server { pws; }" in diff
    assert "-http { include sites-enabled/*; }" in diff and "+http { include sites-enabled/*; gzip on; }" in diff
    assert "# nginx.conf: changed by the admin" in diff


# ---------------------------------------------------------------- the state is private


def modes(directory):
    """Every path under directory (itself included) -> its octal mode, links left out."""
    out = {".": f"{os.stat(directory).st_mode & 0o7777:04o}"}
    for dirpath, dirnames, filenames in os.walk(directory):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                out[os.path.relpath(path, directory)] = f"{os.lstat(path).st_mode & 0o7777:04o}"
    return out


def assert_private(directory):
    found = modes(directory)
    for rel, mode in found.items():
        want = "0700" if os.path.isdir(os.path.join(directory, rel)) else "0600"
        assert mode == want, (rel, found)


def test_every_state_file_is_private_even_under_an_open_umask(state):
    old = os.umask(0)
    try:
        state.write_file(state.nginx / "sites-available" / "pws-a.conf", "server {}\n")
        state.symlink(state.nginx / "sites-enabled" / "pws-a.conf", "../sites-available/pws-a.conf")
        state.remove(state.nginx / "sites-enabled" / "default")
    finally:
        os.umask(old)
    names = set(modes(state.dir))
    assert {"base.tar", "base.manifest", "phase", "written.manifest", "lock",
            "written/sites-available/pws-a.conf"} <= names
    assert_private(state.dir)


def test_the_deferred_path_makes_the_state_dir_private_too(tmp_path):
    state = NginxState(Paths(root=tmp_path))  # no /etc/nginx at all yet
    old = os.umask(0)
    try:
        state.set_phase("deferred")
    finally:
        os.umask(old)
    assert state.phase == "deferred"
    assert modes(state.dir) == {".": "0700", "phase": "0600", "lock": "0600"}


def test_make_private_fixes_what_an_older_version_left_open(state):
    state.ensure_snapshot()
    state.write_file(state.nginx / "sites-available" / "pws-a.conf", "server {}\n")
    os.chmod(state.dir, 0o755)
    os.chmod(state.dir / "base.tar", 0o644)
    os.chmod(state.dir / "written", 0o755)
    os.chmod(state.dir / "written" / "sites-available" / "pws-a.conf", 0o644)
    (state.dir / "prepurge.tar").write_bytes(b"x")
    os.chmod(state.dir / "prepurge.tar", 0o644)
    os.symlink("/etc/passwd", state.dir / "planted")
    passwd_mode = os.stat("/etc/passwd").st_mode
    state.make_private()
    assert_private(state.dir)
    assert os.stat("/etc/passwd").st_mode == passwd_mode  # a link is never followed


# ---------------------------------------------------------------- parallel recordings


def _record_many(root, worker, count):
    state = NginxState(Paths(root=root))
    for i in range(count):
        state.write_file(state.nginx / "sites-available" / f"pws-w{worker}-{i}.conf", f"{i}\n")


def test_parallel_processes_lose_no_record(state):
    """Real processes (as parallel mksite/rmsite of different sites are) each record many
    writes, and the first of them takes the snapshot: every record is in the manifest."""
    import multiprocessing
    ctx = multiprocessing.get_context("fork")
    workers, count = 6, 40
    procs = [ctx.Process(target=_record_many, args=(state.nginx.parent.parent, w, count))
             for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    want = {f"sites-available/pws-w{w}-{i}.conf": f"{i}\n"
            for w in range(workers) for i in range(count)}
    assert set(state.written()) == set(want)
    assert {rel: (state.dir / "written" / rel).read_text() for rel in want} == want
    assert "sites-available/pws-w0-0.conf" not in state.base()  # one snapshot, before any write
