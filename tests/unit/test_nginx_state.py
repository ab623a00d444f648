"""The recording writer and the B/W/C verdicts, on temp trees."""
import grp
import os
import pwd

import pytest

from pws.errors import NginxConfigError
from pws.nginx import compare
from pws.nginx.server import DEFAULT_NAME, NginxServer
from pws.nginx.state import NginxState, SnapshotError
from pws.paths import SOURCE_TREE, Paths
from pws.site import Site


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


# ---------------------------------------------------------------- the server: logs, default


NGINX_CONF = """\
pid {root}/run/nginx.pid;
error_log {root}/var/log/nginx/error.log;
events {{}}
http {{
    client_body_temp_path {root}/tmp/body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    include {root}/etc/nginx/sites-enabled/*;
}}
"""
ADMIN_DEFAULT = "server {{ listen {addr} default_server; return 200 admin; }}\n"


@pytest.fixture
def web(tmp_path):
    """pws's NginxServer on a temp root whose nginx.conf the real `nginx -t` checks."""
    for d in ("etc/nginx/sites-available", "etc/nginx/sites-enabled", "var/log/nginx", "tmp", "run"):
        (tmp_path / d).mkdir(parents=True)
    conf = tmp_path / "etc/nginx/nginx.conf"
    conf.write_text(NGINX_CONF.format(root=tmp_path))
    return NginxServer(Paths(root=tmp_path, share=SOURCE_TREE),
                       nginx_cmd=("nginx", "-p", str(tmp_path), "-c", str(conf)),
                       use_systemd=False, listen=("80", "[::]:80"))


def kept_vhost(web, name):
    """A vhost pws wrote earlier and is not enabled (as after `apt remove pws`)."""
    site = Site(name=name, formula="wsgi", app="a:app", domains=[f"{name}.example.org"])
    web.state.write_file(web.paths.vhost(name), web.render(site))


def default_server(web):
    conf = web.paths.nginx / "sites-available" / DEFAULT_NAME
    link = web.paths.nginx / "sites-enabled" / DEFAULT_NAME
    if not conf.exists():
        assert not os.path.lexists(link)
        return None
    assert os.readlink(link) == f"../sites-available/{DEFAULT_NAME}"
    return [line.strip() for line in conf.read_text().splitlines() if "listen" in line
            and not line.startswith("#")]


def admin_default(web, addr, file="admin-default"):
    path = web.paths.nginx / "sites-enabled" / file
    path.write_text(ADMIN_DEFAULT.format(addr=addr))
    return path


def test_the_default_server_comes_before_every_site_name():
    # nginx includes sites-enabled/* in C (strcmp) order, and site names start with a letter.
    assert DEFAULT_NAME < "pws-a.conf" and DEFAULT_NAME.startswith("pws-")
    assert sorted([DEFAULT_NAME, "pws-a.conf", "pws-0.conf"])[0] == "pws-0.conf"  # no site is "0"


def test_pws_answers_unknown_names_only_while_the_admin_does_not(web):
    kept_vhost(web, "a")
    kept_vhost(web, "b")
    assert default_server(web) is None
    web.enable("a")
    assert default_server(web) == ["listen 80;", "listen [::]:80;"]
    assert web.state.written()[f"sites-available/{DEFAULT_NAME}"].type == "f"
    assert web.config_problem() is None
    # The admin takes port 80: no clash (pws's has no default_server), and pws gives way.
    admin = admin_default(web, "80")
    assert web.config_problem() is None
    web.enable("b")
    assert default_server(web) == ["listen [::]:80;"]
    admin_default(web, "[::]:80", "admin-default6")
    web.disable("b")
    assert default_server(web) is None
    assert web.config_problem() is None
    # The admin's default goes again; the last site goes: so does pws's default.
    admin.unlink()
    (web.paths.nginx / "sites-enabled" / "admin-default6").unlink()
    web.enable("b")
    assert default_server(web) == ["listen 80;", "listen [::]:80;"]
    web.disable("a")
    assert default_server(web) is not None
    web.disable("b")
    assert default_server(web) is None
    assert web.state.written()[f"sites-enabled/{DEFAULT_NAME}"].type == "-"


def test_remove_says_why_nginx_was_not_reloaded(web):
    kept_vhost(web, "a")
    web.enable("a")
    uses_a = web.paths.nginx / "sites-enabled" / "admin-proxy"
    uses_a.write_text("server { listen 8080; location / { proxy_pass http://pws-a; } }\n")
    assert web.config_problem() is None
    problem = web.remove("a")  # with no nginx running, a reload attempt would raise
    assert isinstance(problem, NginxConfigError)
    assert "nginx was not reloaded after the vhost of a was removed" in str(problem)
    assert 'host not found in upstream "pws-a"' in str(problem)
    assert "systemctl reload nginx" in str(problem)
    assert not web.paths.vhost("a").exists() and default_server(web) is None


def log_state(path):
    st = os.lstat(path)
    return f"{pwd.getpwuid(st.st_uid).pw_name}:{grp.getgrgid(st.st_gid).gr_name} " \
           f"{st.st_mode & 0o7777:04o}"


def test_site_logs_are_made_private_before_nginx_opens_them(web):
    logs = web.paths.root / "var/log/nginx"
    access, error = logs / "pws-a.access.log", logs / "pws-a.error.log"
    error.write_text("old line\n")
    os.chmod(error, 0o644)  # as nginx makes it
    web.prepare_logs("a")
    assert (log_state(access), log_state(error)) == ("www-data:adm 0640",) * 2
    assert error.read_text() == "old line\n"


def test_a_link_planted_at_a_log_name_is_never_followed(web, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("secret\n")
    os.chmod(victim, 0o600)
    logs = web.paths.root / "var/log/nginx"
    os.symlink(victim, logs / "pws-a.access.log")
    os.link(victim, logs / "pws-a.error.log")
    web.prepare_logs("a")
    assert log_state(victim) == "root:root 0600" and victim.read_text() == "secret\n"
    for log in ("pws-a.access.log", "pws-a.error.log"):
        assert log_state(logs / log) == "www-data:adm 0640"
        assert (logs / log).read_text() == ""
    assert os.stat(victim).st_nlink == 1
