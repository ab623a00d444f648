"""Issue 9, items 2, 3, 9, 10, 12 (umask) and 13, performed in a booted Debian 12:

- a hostile adopted repo (links to /etc/shadow and /etc, a fifo) publishes nothing and
  changes nothing outside its site;
- no site or dependency code ever runs as root: a dependency with a .pth file records the uid
  of every interpreter that loads it (mksite, pws apply, the package upgrade);
- a package upgrade runs no site code at all (no pip, no migrate);
- mksite killed by SIGTERM undoes everything; killed by SIGKILL it leaves a half-made site
  that mksite names and `rmsite NAME` removes;
- a root umask of 077 does not break a site; a new Django site has a landing page and is
  refused when the system cannot render its pages (no time zone data).
"""
from __future__ import annotations

import io
import re
import time
import zipfile

import pytest

import container
from site_helpers import copy_project, footprint, install_projects, request

PROBE_DIR = "/var/lib/pwsprobe"  # where every interpreter that loads the .pth leaves its uid
EXTRA_WHEELS = "/root/extra-wheels"
HOOK = f"""import os, sys
try:
    with open("{PROBE_DIR}/%d" % os.getpid(), "w") as record:
        record.write("%d %s\\n" % (os.getuid(), " ".join(sys.argv[:3])))
except OSError:  # the running app cannot write there (ProtectSystem=strict): fine
    pass
"""
HELLO = '''
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]
'''
SLOW = "import time\ntime.sleep(30)\n" + HELLO
# pwsdaemon: a dependency that, at the first start of the venv's Python where it may write
# the app, leaves a daemon (its own session) holding the app's code open for writing, and
# writes through it once root has sealed the tree.
DAEMON_HOOK = f"""import glob, os, time
def start():
    # The release being built: the one whose app/ the site user may write now.
    targets = [t for t in glob.glob(os.path.join(os.environ.get("HOME", ""), "releases", "*",
                                                 "app", "hello.py")) if os.access(t, os.W_OK)]
    if not os.path.exists("{PROBE_DIR}/daemon-enabled") or not targets:
        return
    target = targets[0]
    try:
        os.close(os.open("{PROBE_DIR}/daemon-started", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except OSError:
        return
    if os.fork():
        return
    os.setsid()
    if os.fork():
        os._exit(0)
    fd = os.open(target, os.O_WRONLY | os.O_APPEND)
    null = os.open("/dev/null", os.O_RDWR)
    for std in (0, 1, 2):
        os.dup2(null, std)
    for _ in range(900):
        if os.fstat(fd).st_uid == 0:
            os.write(fd, b"\\n# written by the daemon after the seal\\n")
            open("{PROBE_DIR}/daemon-wrote", "w").close()
            break
        time.sleep(0.1)
    os._exit(0)
start()
"""


def pth_wheel(name: str, hook: str) -> bytes:
    """NAME 1.0: a .pth file that imports NAME_hook at every start of the venv's Python."""
    files = {f"{name}.pth": f"import {name}_hook\n", f"{name}_hook.py": hook}
    info = f"{name}-1.0.dist-info"
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
    files[f"{info}/WHEEL"] = ("Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                              "Tag: py3-none-any\n")
    files[f"{info}/RECORD"] = "".join(f"{path},,\n" for path in [*files, f"{info}/RECORD"])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as whl:
        for path, text in files.items():
            whl.writestr(path, text)
    return buf.getvalue()


@pytest.fixture(scope="module")
def prepared(ct):
    install_projects(ct)
    ct.write_file(f"{EXTRA_WHEELS}/pwsprobe-1.0-py3-none-any.whl", pth_wheel("pwsprobe", HOOK))
    ct.write_file(f"{EXTRA_WHEELS}/pwsdaemon-1.0-py3-none-any.whl",
                  pth_wheel("pwsdaemon", DAEMON_HOOK))
    ct.write_file("/etc/pip.conf", f"[global]\nno-index = true\nfind-links =\n"
                  f"    {container.CT_WHEELHOUSE}\n    {EXTRA_WHEELS}\n")
    ct.run(f"mkdir -p {PROBE_DIR} && chmod 1777 {PROBE_DIR} && chmod 755 /root")
    ct.write_file("/etc/canary", "canary\n")
    return ct


def probe_uids(ct) -> list[tuple[int, str]]:
    out = ct.run(f"cat {PROBE_DIR}/* 2>/dev/null || true").stdout
    return [(int(uid), what) for uid, _, what in (r.partition(" ") for r in out.splitlines() if r)]


def uid_of(ct, user: str) -> int:
    return int(ct.run(["id", "-u", user]).stdout)


def etc_state(ct) -> str:
    return ct.run("stat -c '%n %a %U %G' /etc /etc/shadow /etc/passwd /etc/canary; "
                  "cat /etc/canary").stdout


def hostile_repo(ct, path: str) -> None:
    ct.write_file(f"{path}/hello.py", HELLO)
    ct.write_file(f"{path}/static/style.css", "body { color: teal }\n")
    ct.run(f"ln -s /etc/shadow {path}/static/leak && ln -s /etc {path}/static/etcdir && "
           f"ln -s /etc {path}/assets && mkfifo {path}/static/pipe && "
           f"ln -s /etc/canary {path}/static/canary.txt")


def test_a_hostile_repo_publishes_nothing_and_changes_nothing_outside(prepared):
    ct = prepared
    hostile_repo(ct, "/root/hostile")
    before = etc_state(ct)
    made = ct.run("mksite wsgi hostile --app hello:app --from /root/hostile --domain "
                  "hostile.example.org --static /static=static --requirement pwsprobe --yes",
                  timeout=600)
    assert "not published" in made.stderr, made.stderr
    for path in ("/static/leak", "/static/etcdir/passwd", "/static/canary.txt", "/static/pipe"):
        response = request(ct, "hostile.example.org", path)
        assert response.status == 404, (path, response.status, response.body[:200])
    assert request(ct, "hostile.example.org", "/static/style.css").status == 200
    assert etc_state(ct) == before
    published = ct.run("find /srv/pws/hostile/current/static/ -printf '%y %p\\n'").stdout
    assert "leak" not in published and "etcdir" not in published, published
    # The links stay links in app/ (the site's own code may use them, with its own rights).
    assert ct.run("stat -c %F /srv/pws/hostile/current/app/assets").stdout.strip() == "symbolic link"


def test_no_site_or_dependency_code_ever_runs_as_root(prepared):
    ct = prepared
    uids = probe_uids(ct)
    site_uid = uid_of(ct, "pws-hostile")
    assert uids, "the .pth probe never ran: the test would prove nothing"
    assert {uid for uid, _ in uids} == {site_uid}, uids
    ct.run("pws apply hostile", timeout=600)
    again = probe_uids(ct)
    assert len(again) > len(uids), "pws apply ran no venv Python: it should reinstall and check"
    assert {uid for uid, _ in again} == {site_uid}, again


def test_the_build_leaves_the_trees_sealed(prepared):
    ct = prepared
    # .pws-complete: root's own mark that the venv was built in full (releases.py).
    owners = ct.run("find /srv/pws/hostile/current/app/ /srv/pws/hostile/current/venv/ ! -type l "
                    "! -path '*/venv/.pws-complete' -printf '%u:%g\\n' | sort -u").stdout.split()
    assert owners == ["root:pws-hostile"], owners
    writable = ct.run("runuser -u pws-hostile -- find /srv/pws/hostile/current/app/ "
                      "/srv/pws/hostile/current/venv/ -writable ! -type l").stdout
    assert writable == "", writable
    listed = set(ct.run("ls /srv/pws/hostile/current/app").stdout.split())
    assert listed == {"assets", "hello.py", "__pycache__", "static"}, listed  # no build/ left


def test_settings_are_never_written_through_a_link_of_the_repo(prepared):
    ct = prepared
    src = copy_project(ct, "django_shop", "/root/linked-shop")
    ct.run(f"ln -s /etc/canary {src}/pws_settings.py")
    before = etc_state(ct)
    ct.run(f"mksite django lshop --from {src} --domain lshop.example.org --yes", timeout=600)
    assert etc_state(ct) == before
    kind = ct.run("stat -c '%F %U %G %a' /srv/pws/lshop/current/app/pws_settings.py").stdout.strip()
    assert kind == "regular file root pws-lshop 640", kind
    assert request(ct, "lshop.example.org", "/").status < 500
    ct.run("rmsite lshop --delete-source --drop-database --yes")


def test_a_daemon_left_by_the_build_cannot_write_the_sealed_code(prepared):
    ct = prepared
    ct.write_file("/root/dhello/hello.py", HELLO)
    ct.run(f"touch {PROBE_DIR}/daemon-enabled")
    made = ct.run("mksite wsgi dmn --app hello:app --from /root/dhello --domain dmn.example.org "
                  "--requirement pwsdaemon --yes", timeout=600)
    ct.run(f"rm {PROBE_DIR}/daemon-enabled")
    assert ct.exists(f"{PROBE_DIR}/daemon-started"), "the daemon never started: proves nothing"
    time.sleep(2)
    assert not ct.exists(f"{PROBE_DIR}/daemon-wrote")
    assert ct.read_file("/srv/pws/dmn/current/app/hello.py") == HELLO
    assert "left running" in made.stderr, made.stderr
    outside = ct.run("for pid in $(pgrep -u pws-dmn); do grep -L 'pws-site@dmn.service' "
                     "/proc/$pid/cgroup; done", check=False).stdout
    assert outside.strip() == "", outside


def test_a_package_upgrade_runs_no_site_code(prepared, debs):
    ct = prepared
    ct.run("mksite django up --domain up.example.org --requirement pwsprobe --yes", timeout=600)
    assert request(ct, "up.example.org", "/").status == 200
    ran_before = len(probe_uids(ct))
    ct.run(["apt-get", "install", "-y", "--reinstall",
            *(f"/root/debs/{deb.name}" for deb in debs)], timeout=600)
    assert len(probe_uids(ct)) == ran_before, "the upgrade ran the sites' Python (pip, migrate)"
    assert request(ct, "up.example.org", "/").status == 200
    assert request(ct, "hostile.example.org", "/").status == 200


def test_pws_manage_never_hands_roots_terminal_to_site_code(prepared):
    """Site code on root's terminal could push keystrokes into root's shell (TIOCSTI) or read
    what root types later: it gets a pty of its own, in a session of its own."""
    ct = prepared
    ct.write_file("/root/ttycheck.sh", "#!/bin/sh\necho \"ROOT $(tty)\"\n"
                  "pws manage up shell -c \"import os; "
                  "print('SITE', ','.join(sorted({os.ttyname(fd) for fd in (0, 1, 2)})))\"\n",
                  mode=0o755)
    out = ct.run(["script", "-qec", "/root/ttycheck.sh", "/dev/null"], timeout=120).stdout
    words = dict(re.findall(r"(ROOT|SITE) (\S+)", out))
    assert words.get("ROOT", "").startswith("/dev/pts/"), out
    # All three of the site's fds on one terminal, and not root's.
    assert re.fullmatch(r"/dev/pts/\d+", words.get("SITE", "")), out
    assert words["SITE"] != words["ROOT"], out


def test_sigterm_during_mksite_undoes_everything(prepared):
    ct = prepared
    ct.write_file("/root/slow/slow.py", SLOW)
    before = footprint(ct)
    pid = _start_mksite(ct, "slowterm")
    _wait_for_import_check(ct, "slowterm")
    ct.run(["kill", "-TERM", pid])
    _wait_gone(ct, pid)
    log = ct.read_file("/root/mksite-slowterm.log")
    assert "stopped by SIGTERM" in log, log
    assert footprint(ct) == before
    assert not ct.exists("/var/lib/pws/pending/slowterm.json")


def test_sigkill_leaves_a_half_made_site_that_rmsite_removes(prepared):
    ct = prepared
    before = footprint(ct)
    pid = _start_mksite(ct, "slowkill")
    _wait_for_import_check(ct, "slowkill")
    ct.run(["kill", "-KILL", pid])
    _wait_gone(ct, pid)
    assert footprint(ct) != before
    again = ct.run("mksite wsgi slowkill --app slow:app --from /root/slow --yes", check=False)
    assert again.returncode != 0 and "half-made" in again.stderr, again.stderr
    removed = ct.run("rmsite slowkill --yes")
    assert "half-made" in removed.stdout
    assert footprint(ct) == before
    assert not ct.exists("/var/lib/pws/pending/slowkill.json")


def _start_mksite(ct, name: str) -> str:
    return ct.run(f"mksite wsgi {name} --app slow:app --from /root/slow --yes "
                  f"> /root/mksite-{name}.log 2>&1 & echo $!").stdout.strip()


def _wait_for_import_check(ct, name: str, within: float = 120) -> None:
    """Until the app's import check runs as the site user (the site is half made by then)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if ct.run(f"pgrep -u pws-{name} -f slow:app", check=False).returncode == 0:
            return
        time.sleep(0.2)
    raise AssertionError(ct.read_file(f"/root/mksite-{name}.log"))


def _wait_gone(ct, pid: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while ct.run(["kill", "-0", pid], check=False).returncode == 0:
        assert time.monotonic() < deadline, f"mksite {pid} still runs"
        time.sleep(0.2)


def test_a_group_that_existed_before_is_refused_and_kept(prepared):
    ct = prepared
    ct.run("addgroup --system pws-grp")
    before = footprint(ct)
    made = ct.run("mksite wsgi grp --app slow:app --from /root/slow --yes", check=False)
    assert made.returncode != 0 and "group pws-grp" in made.stderr, made.stderr
    assert footprint(ct) == before  # the group is still there, nothing else was made
    ct.run("delgroup --system pws-grp")


def test_the_installed_tool_ignores_path_overrides_in_its_environment(prepared):
    ct = prepared
    ct.run("mkdir -p /tmp/fake/etc/pws/sites /tmp/fake/share")
    listed = ct.run("PWS_ROOT=/tmp/fake PWS_SHARE=/tmp/fake/share pws list").stdout
    assert "hostile" in listed, listed


def test_a_root_umask_of_077_does_not_break_a_site(prepared):
    ct = prepared
    ct.write_file("/root/um/hello.py", HELLO)
    ct.write_file("/root/um/static/style.css", "body { color: teal }\n")
    ct.run("umask 077 && mksite wsgi um --app hello:app --from /root/um --domain um.example.org "
           "--static /static=static --yes", timeout=600)
    assert request(ct, "um.example.org", "/").body == "hello"
    assert request(ct, "um.example.org", "/static/style.css").status == 200


def test_a_new_django_site_has_a_landing_page_and_a_working_admin(prepared):
    ct = prepared
    landing = request(ct, "up.example.org", "/")
    assert landing.status == 200 and "a Django site made by PWS" in landing.body
    assert request(ct, "up.example.org", "/admin/login/").status == 200


def test_without_time_zone_data_a_django_site_is_refused_not_reported_live(prepared):
    """Last in the module: it takes tzdata away."""
    ct = prepared
    before = footprint(ct)
    ct.run("dpkg --force-depends -r tzdata")
    start = time.monotonic()
    made = ct.run("mksite django notz --domain notz.example.org --yes", check=False, timeout=600)
    assert made.returncode != 0, made.stdout
    assert "did not answer GET /" in made.stderr, made.stderr
    assert time.monotonic() - start < 60, "a server error should not be waited out"
    assert footprint(ct) == before
