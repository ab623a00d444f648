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
