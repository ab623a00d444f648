"""Issue 3 in a booted Debian 12 with real apt: pws gives back the admin's nginx configuration.

Each scenario gets a fresh container. /etc/nginx is compared as a full manifest (type, mode,
owner, sha256 or link target), made by pws's own manifest.scan (src/pws/nginx/manifest.py,
copied in: at purge pws's venv is gone).

Interruptions are real: dpkg runs under `systemd-run` and its whole unit is SIGKILLed while a
maintainer script waits in a command made to block through a dpkg diversion (nginx -t in
the postinst; stat(1) on one path in the postrm's restore).
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

import container

REPO = Path(__file__).resolve().parents[2]
MANIFEST_PY = REPO / "src" / "pws" / "nginx" / "manifest.py"
DEB_CACHE = container.CACHE / "debs" / ("" if container.SUITE == "bookworm" else container.SUITE)
MODULE_PKG = "libnginx-mod-http-echo"  # an nginx module package, installed offline from a .deb

APP = '''
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from {name}"]
'''
ADMIN_DEFAULT = """\
server {
    listen 80 default_server;
    listen [::]:80 default_server;
    server_name _;
    location / { return 200 "admin default\\n"; }
}
"""
PWS, DJANGO = "/root/debs/pws_*.deb", "/root/debs/pws-django_*.deb"


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="session")
def module_deb() -> Path:
    """The .deb of an nginx module package, downloaded once on the host with apt."""
    DEB_CACHE.mkdir(parents=True, exist_ok=True)
    found = sorted(DEB_CACHE.glob(f"{MODULE_PKG}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", *_suite_apt(), MODULE_PKG],
                       cwd=DEB_CACHE, check=True, capture_output=True)
        found = sorted(DEB_CACHE.glob(f"{MODULE_PKG}_*.deb"))
    return found[-1]


def _suite_apt() -> list[str]:
    """apt options for the host's apt to fetch from the container's suite: its own index in
    the cache (fetched here), the host's Debian keyring (it has every release's keys)."""
    opts = ["-o", "APT::Sandbox::User=root"]
    if container.SUITE == "bookworm":
        return opts  # the host's own suite
    state = DEB_CACHE / "apt"
    (state / "lists/partial").mkdir(parents=True, exist_ok=True)
    (state / "cache/archives/partial").mkdir(parents=True, exist_ok=True)
    sources = state / "sources.list"
    sources.write_text(f"deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                       f"{container.MIRROR} {container.SUITE} main\n")
    opts += ["-o", f"Dir::Etc::SourceList={sources}", "-o", "Dir::Etc::SourceParts=-",
             "-o", f"Dir::State::Lists={state / 'lists'}", "-o", f"Dir::Cache={state / 'cache'}",
             "-o", "Dir::State::Status=/dev/null"]
    subprocess.run(["apt-get", "update", *opts], check=True, capture_output=True)
    return opts


@pytest.fixture
def fresh(debs, image, wheelhouse):
    """A booted container with nginx as Debian installs it, and the .debs copied in."""
    with container.Container(image, wheelhouse) as ct:
        ct.copy_in(MANIFEST_PY, "/root/pws_manifest.py")
        ct.run(["mkdir", "-p", "/root/debs"])
        for deb in debs:
            ct.copy_in(deb, f"/root/debs/{deb.name}")
        yield ct


def manifest(ct) -> dict[str, str]:
    """/etc/nginx now: path -> 'type mode uid:gid digest' (the base.manifest format)."""
    out = ct.run(["python3", "-c", "import sys; sys.path.insert(0, '/root'); "
                  "from pathlib import Path; import pws_manifest as m; "
                  "print(m.render(m.scan(Path('/etc/nginx'))), end='')"]).stdout
    return dict(line.split("\t", 1) for line in out.splitlines())


def base_manifest(ct) -> dict[str, str]:
    return dict(line.split("\t", 1) for line in ct.read_file(
        "/var/lib/pws/nginx/base.manifest").splitlines())


def apt(ct, *args: str, check: bool = True) -> str:
    """`apt-get -y ARGS` (through sh, so globs work); stdout and stderr as one text."""
    proc = ct.run(f"apt-get -y {' '.join(args)} 2>&1", check=False, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"apt-get {' '.join(args)} failed:\n{proc.stdout}")
    return proc.stdout


def mksite(ct, name: str) -> None:
    ct.write_file(f"/root/{name}/app.py", APP.format(name=name))
    ct.run(f"mksite wsgi {name} --app app:app --from /root/{name} "
           f"--domain {name}.example.org --yes", timeout=600)


def page(ct, host: str, path: str = "/") -> tuple[int, str]:
    return container.http(ct, f"http://127.0.0.1{path}", host=host)


def wait_page(ct, host: str, want: str, path: str = "/", within: float = 20) -> None:
    """Wait until HOST answers 200 with WANT in the body (an nginx reload is asynchronous)."""
    deadline = time.monotonic() + within
    while True:
        status, body = page(ct, host, path)
        if status == 200 and want in body:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{host}{path}: {status} {body!r}, not {want!r}")
        time.sleep(0.2)


def status_lines(ct) -> list[str]:
    return ct.run("pws nginx status").stdout.splitlines()[1:]


def nginx_ok(ct) -> bool:
    return ct.run("nginx -t", check=False).returncode == 0 and \
        ct.run("systemctl is-active nginx", check=False).stdout.strip() == "active"


def without_pws(entries: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in entries.items() if "/pws-" not in k}


def block_in(ct, unit: str, cmd: str, marker: str, within: float = 120) -> None:
    """Run CMD as a transient unit, wait until it blocks (MARKER appears), SIGKILL the unit."""
    ct.run(["touch", f"/run/pws-test-{marker}"])
    ct.run(["systemd-run", f"--unit={unit}", "--setenv=DEBIAN_FRONTEND=noninteractive",
            "sh", "-c", cmd])
    deadline = time.monotonic() + within
    while not ct.exists("/run/pws-test-blocked"):
        if time.monotonic() > deadline:
            raise AssertionError(ct.run(f"journalctl -u {unit} --no-pager", check=False).stdout)
        time.sleep(0.2)
    ct.run(["systemctl", "kill", "-s", "KILL", unit])
    ct.run(f"while systemctl -q is-active {unit}; do sleep 0.1; done", timeout=30)
    ct.run(["rm", "-f", f"/run/pws-test-{marker}", "/run/pws-test-blocked"])


def divert(ct, program: str, blocks_when: str, marker: str) -> None:
    """Replace PROGRAM (dpkg-divert) by a wrapper that hangs while /run/pws-test-MARKER exists
    and its arguments match the case pattern BLOCKS_WHEN; otherwise it runs the real one."""
    ct.run(["dpkg-divert", "--local", "--rename", "--add", program])
    ct.write_file(program, f"""#!/bin/sh
if [ -e /run/pws-test-{marker} ]; then
    case " $* " in {blocks_when}) touch /run/pws-test-blocked; exec sleep infinity ;; esac
fi
exec {program}.distrib "$@"
""", mode=0o755)


def dpkg_status(ct, pkg: str = "pws") -> str:
    return ct.run(["dpkg-query", "-W", "-f=${Status}", pkg], check=False).stdout


# ---------------------------------------------------------------- (a) pristine nginx


def test_a_pristine_nginx_comes_back_exactly(fresh):
    ct = fresh
    pristine = manifest(ct)
    out = apt(ct, "install", PWS, DJANGO)
    assert "pws: took a snapshot of /etc/nginx in /var/lib/pws/nginx" in out
    assert base_manifest(ct) == pristine
    assert ct.run("pws nginx status").stdout.endswith("No differences from the snapshot.\n")

    mksite(ct, "hello")
    ct.run("mksite django blog --domain blog.example.org --yes", timeout=600)
    assert page(ct, "hello.example.org") == (200, "hello from hello")
    assert page(ct, "blog.example.org", "/admin/login/")[0] == 200
    pws_paths = ["sites-available/pws-blog.conf", "sites-available/pws-hello.conf",
                 "sites-enabled/pws-blog.conf", "sites-enabled/pws-hello.conf"]
    assert status_lines(ct) == [f"  {p}: created by pws; purge removes it" for p in pws_paths]
    diff = ct.run("pws nginx diff").stdout
    assert "# sites-available/pws-hello.conf: created by pws; purge removes it\n" \
           "--- snapshot/sites-available/pws-hello.conf\n" in diff
    assert "+    server_name hello.example.org;" in diff
    assert "+symlink -> ../sites-available/pws-blog.conf" in diff

    # apt remove: the sites are down, nginx serves the rest, the config stays.
    out = apt(ct, "remove", "pws")
    assert "pws: disabled 2 site(s)" in out
    wait_page(ct, "hello.example.org", "Welcome to nginx")
    assert nginx_ok(ct)
    removed = manifest(ct)
    assert without_pws(removed) == pristine
    assert sorted(set(removed) - set(pristine)) == pws_paths[:2]

    # Reinstall: the sites come back.
    apt(ct, "install", PWS, DJANGO)
    wait_page(ct, "hello.example.org", "hello from hello")
    assert page(ct, "blog.example.org", "/admin/login/")[0] == 200
    assert base_manifest(ct) == pristine
    assert status_lines(ct) == [f"  {p}: created by pws; purge removes it" for p in pws_paths]

    started = time.monotonic()
    out = apt(ct, "purge", "pws-django", "pws")
    print(f"apt purge pws-django pws: {time.monotonic() - started:.1f} s")
    assert "pws: removed sites-available/pws-blog.conf (pws made it)." in out
    assert "pws: removed sites-available/pws-hello.conf (pws made it)." in out
    assert "pws: /etc/nginx: 0 restored, 2 removed, 0 merged, 0 kept as you changed them" in out
    assert manifest(ct) == pristine
    assert not ct.exists("/var/lib/pws") and not ct.exists("/etc/pws/sites")
    # The sites' data stays in /srv/pws, so do the secrets it was signed or encrypted with.
    assert ct.exists("/etc/pws/secrets/hello") and ct.exists("/etc/pws/secrets/blog")
    assert nginx_ok(ct)
    wait_page(ct, "hello.example.org", "Welcome to nginx")


# ---------------------------------------------------------------- (b) an admin's nginx


def test_b_the_admins_configuration_is_kept_and_pws_is_gone(fresh, module_deb):
    ct = fresh
    ct.copy_in(module_deb, f"/root/debs/{module_deb.name}")
    # Before pws: their own default_server site, nginx.conf tuning, a conf.d file.
    ct.write_file("/etc/nginx/sites-available/admin.conf", ADMIN_DEFAULT)
    ct.run("cd /etc/nginx/sites-enabled && rm default && ln -s ../sites-available/admin.conf .")
    ct.run("sed -i 's/# server_tokens off;/server_tokens off;/' /etc/nginx/nginx.conf && "
           "grep -q '^[[:space:]]*server_tokens off;' /etc/nginx/nginx.conf")
    ct.write_file("/etc/nginx/conf.d/admin-gzip.conf", "gzip_comp_level 5;\n", mode=0o640)
    ct.run("systemctl reload nginx")
    wait_page(ct, "any.example.org", "admin default")
    admins = manifest(ct)

    apt(ct, "install", PWS, DJANGO)
    assert base_manifest(ct) == admins
    mksite(ct, "hello")
    assert page(ct, "hello.example.org") == (200, "hello from hello")

    # While pws is installed: a module package, and more edits by hand that use it.
    out = apt(ct, "install", f"/root/debs/{module_deb.name}")
    assert f"Setting up {MODULE_PKG}" in out
    ct.run("sed -i 's|^    location / |    location /echo { echo \"echo module\"; }\\n&|' "
           "/etc/nginx/sites-available/admin.conf")
    ct.run("sed -i 's/# gzip_vary on;/gzip_vary on;/' /etc/nginx/nginx.conf && "
           "grep -q '^[[:space:]]*gzip_vary on;' /etc/nginx/nginx.conf")
    ct.run("systemctl reload nginx")
    wait_page(ct, "any.example.org", "echo module", "/echo")
    status = status_lines(ct)
    for line in ("  modules-enabled/50-mod-http-echo.conf: added by the admin; "
                 "purge leaves it as it is",
                 "  nginx.conf: changed by the admin; purge leaves it as it is",
                 "  sites-available/admin.conf: changed by the admin; purge leaves it as it is",
                 "  sites-available/pws-hello.conf: created by pws; purge removes it",
                 "  sites-enabled/pws-hello.conf: created by pws; purge removes it"):
        assert line in status, status
    assert "+    location /echo" in ct.run("pws nginx diff").stdout
    before_purge = manifest(ct)

    out = apt(ct, "purge", "pws-django", "pws")
    assert "pws: removed sites-available/pws-hello.conf (pws made it)." in out
    after = manifest(ct)
    assert after == without_pws(before_purge)
    assert "modules-enabled/50-mod-http-echo.conf" in after
    assert after["nginx.conf"] != admins["nginx.conf"]  # the later edit stayed
    assert nginx_ok(ct)
    wait_page(ct, "hello.example.org", "admin default")
    assert page(ct, "any.example.org", "/echo") == (200, "echo module\n")


# ---------------------------------------------------------------- (c) a pws vhost edited


def test_c_a_pws_vhost_the_admin_edited_is_kept_and_reported(fresh):
    ct = fresh
    pristine = manifest(ct)
    apt(ct, "install", PWS)
    mksite(ct, "hello")
    vhost = "/etc/nginx/sites-available/pws-hello.conf"
    ct.run(f"sed -i 's|^    server_name .*|&\\n    add_header X-Admin yes always;|' {vhost}")
    ct.run("systemctl reload nginx")
    deadline = time.monotonic() + 20
    while "X-Admin: yes" not in ct.run("curl -sSI -H 'Host: hello.example.org' "
                                       "http://127.0.0.1/").stdout:
        assert time.monotonic() < deadline, "the admin's header never showed"
        time.sleep(0.2)
    assert ("  sites-available/pws-hello.conf: created by pws, then edited by the admin; "
            "purge keeps your version") in status_lines(ct)
    diff = ct.run("pws nginx diff").stdout
    assert "# your edits since pws wrote sites-available/pws-hello.conf:\n" \
           "--- pws/sites-available/pws-hello.conf\n+++ now/sites-available/pws-hello.conf\n" in diff
    assert "+    add_header X-Admin yes always;" in diff
    edited = ct.read_file(vhost)

    out = apt(ct, "purge", "pws")
    assert ("pws: kept sites-available/pws-hello.conf: pws made it and you edited it since; "
            "remove it if you no longer need it.") in out
    assert "0 restored, 0 removed, 0 merged, 1 kept as you changed them" in out
    assert ct.read_file(vhost) == edited
    after = manifest(ct)
    assert without_pws(after) == pristine
    assert [k for k in after if "pws-" in k] == ["sites-available/pws-hello.conf"]
    assert nginx_ok(ct)


# ---------------------------------------------------------------- (d) nginx purged first


def test_d_nginx_purged_before_pws(fresh):
    """pws removed, then nginx purged (nginx-common's postrm deletes /etc/nginx, pws's vhost
    with it), then pws purged: nothing to restore, nothing recreated."""
    ct = fresh
    apt(ct, "install", PWS)
    mksite(ct, "hello")
    apt(ct, "remove", "pws")
    apt(ct, "purge", "nginx", "nginx-common")
    assert not ct.exists("/etc/nginx")

    out = apt(ct, "purge", "pws")
    assert "pws: /etc/nginx is gone (nginx was purged): nothing to restore." in out
    assert not ct.exists("/etc/nginx") and not ct.exists("/var/lib/pws")
    assert dpkg_status(ct) == ""


# ---------------------------------------------------------------- (e) killed mid-way


def test_e_dpkg_killed_mid_postinst_and_mid_purge_recovers(fresh):
    ct = fresh
    pristine = manifest(ct)
    divert(ct, "/usr/sbin/nginx", '*" -t "*', "nginx")

    # 1. First install, killed while the postinst checks nginx before its snapshot.
    block_in(ct, "pws-apt-1", f"apt-get install -y {PWS}", "nginx")
    assert dpkg_status(ct) == "install ok half-configured"
    assert not ct.exists("/var/lib/pws/nginx/base.tar")
    out = ct.run("dpkg --configure -a 2>&1").stdout
    assert "pws: took a snapshot of /etc/nginx" in out
    assert dpkg_status(ct) == "install ok installed"
    assert base_manifest(ct) == pristine
    for name in ("one", "two"):
        mksite(ct, name)
    base_tar = ct.run("sha256sum /var/lib/pws/nginx/base.tar").stdout

    # 2. Reinstall after a remove, killed in the postinst after it re-enabled the vhosts.
    apt(ct, "remove", "pws")
    block_in(ct, "pws-apt-2", f"apt-get install -y {PWS}", "nginx")
    assert dpkg_status(ct) == "install ok half-configured"
    assert ct.exists("/etc/nginx/sites-enabled/pws-one.conf")
    ct.run("dpkg --configure -a")
    assert dpkg_status(ct) == "install ok installed"
    wait_page(ct, "one.example.org", "hello from one")
    wait_page(ct, "two.example.org", "hello from two")
    assert ct.run("sha256sum /var/lib/pws/nginx/base.tar").stdout == base_tar

    # 3. Purge killed in the middle of the restore: one vhost gone, the other not yet.
    divert(ct, "/usr/bin/stat", '*/etc/nginx/sites-available/pws-two.conf*', "stat")
    block_in(ct, "pws-apt-3", "apt-get purge -y pws", "stat")
    assert dpkg_status(ct) == "purge ok config-files"
    assert not ct.exists("/etc/nginx/sites-available/pws-one.conf")
    assert ct.exists("/etc/nginx/sites-available/pws-two.conf")
    assert ct.exists("/var/lib/pws/nginx/prepurge.tar")
    blocked = apt(ct, "purge", "pws", check=False)
    assert "dpkg was interrupted, you must manually run 'dpkg --configure -a'" in blocked
    ct.run("dpkg --configure -a")
    out = apt(ct, "purge", "pws")
    assert "pws: continuing an earlier, interrupted restore." in out
    assert "pws: removed sites-available/pws-two.conf (pws made it)." in out
    assert "pws-one" not in out
    for program in ("/usr/bin/stat", "/usr/sbin/nginx"):
        ct.run(["rm", program])
        ct.run(["dpkg-divert", "--local", "--rename", "--remove", program])
    assert manifest(ct) == pristine
    assert not ct.exists("/var/lib/pws") and dpkg_status(ct) == ""
    assert nginx_ok(ct)


# ---------------------------------------------------------------- (f) nginx -t after restore


def test_f_a_restore_that_breaks_nginx_is_put_back(fresh):
    """The admin proxies their own domain to pws's upstream: taking pws's vhost away would
    break `nginx -t`. The prerm keeps the vhosts enabled; the purge restores, sees nginx -t
    fail, puts the tree back as it was, keeps copies, and still succeeds."""
    ct = fresh
    apt(ct, "install", PWS)
    mksite(ct, "hello")
    ct.write_file("/etc/nginx/sites-available/admin-app.conf",
                  "server { listen 80; server_name app.example.org;\n"
                  "         location / { proxy_pass http://pws-hello; } }\n")
    ct.run("ln -s ../sites-available/admin-app.conf /etc/nginx/sites-enabled/ && "
           "systemctl reload nginx")
    wait_page(ct, "app.example.org", "hello from hello")
    before = manifest(ct)

    out = apt(ct, "purge", "pws")
    assert "so they stay enabled; their apps are stopped." in out
    assert "pws: after the restore `nginx -t` failed:" in out
    assert 'host not found in upstream "pws-hello"' in out
    assert "pws: so /etc/nginx was put back as it was before the purge (pws's files included)." in out
    assert manifest(ct) == before
    assert nginx_ok(ct)
    backups = ct.run("ls /var/backups/pws/*/").stdout.split()
    assert backups == ["base.tar", "prepurge.tar", "restored-but-failing.tar"]
    assert dpkg_status(ct) == ""


# ---------------------------------------------------------------- (g) bad input


def test_g_a_broken_config_and_a_tampered_state_never_fail_apt(fresh):
    """A config failing `nginx -t` at install: pws installs, touches nothing, waits. A state
    dir tampered with: remove and purge succeed, /etc/nginx is left as it is, a copy is kept."""
    ct = fresh
    ct.write_file("/etc/nginx/conf.d/broken.conf", "this is not nginx;\n")
    broken = manifest(ct)
    out = apt(ct, "install", PWS)
    assert "`nginx -t` fails on your configuration, so pws has not touched /etc/nginx" in out
    assert dpkg_status(ct) == "install ok installed"
    assert ct.read_file("/var/lib/pws/nginx/phase") == "deferred\n"
    assert manifest(ct) == broken
    # mksite tries, nginx -t names the admin's broken file, nothing stays changed.
    ct.write_file("/root/hello/app.py", APP.format(name="hello"))
    refused = ct.run("mksite wsgi hello --app app:app --from /root/hello --yes", check=False)
    assert refused.returncode != 0
    assert 'unknown directive "this" in /etc/nginx/conf.d/broken.conf:1' in refused.stderr
    assert manifest(ct) == broken

    assert not ct.exists("/var/lib/pws/nginx/base.manifest")  # no snapshot of a broken tree
    ct.run("rm /etc/nginx/conf.d/broken.conf")
    fixed = manifest(ct)
    ct.run("dpkg-reconfigure pws")
    mksite(ct, "hello")
    # The base is taken once the admin's configuration passes `nginx -t`.
    assert base_manifest(ct) == fixed
    ct.run("echo 'not a manifest line' >> /var/lib/pws/nginx/written.manifest")
    before = manifest(ct)

    out = apt(ct, "purge", "pws")
    assert "written.manifest is damaged: bad manifest line" in out
    assert ("pws: the record of pws's changes in /var/lib/pws/nginx is damaged: "
            "written.manifest has malformed lines.") in out
    assert "pws: /etc/nginx was left exactly as it is; a copy of that record is in " \
           "/var/backups/pws/purge-" in out
    assert manifest(ct) == before
    assert ct.exists("/var/backups/pws/") and "written.manifest" in ct.run(
        "ls /var/backups/pws/*/state/").stdout
    assert dpkg_status(ct) == "" and nginx_ok(ct)
