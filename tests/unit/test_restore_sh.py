"""The purge-time restore (maintscripts/nginx-restore.sh) run by the real shell on temp trees.

The trees are written through pws's own NginxState, so the manifests and base.tar are the
real format. PWS_RESTORE_ROOT points the script at the temp tree; PWS_RESTORE_NGINX names a
stub nginx (fails `-t` when nginx.conf includes a missing file) where a test needs one.
"""
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from pws.nginx import compare, manifest
from pws.nginx.manifest import ABSENT, Entry
from pws.nginx.state import NginxState
from pws.paths import Paths

REPO = Path(__file__).resolve().parents[2]
RESTORE_SH = REPO / "maintscripts" / "nginx-restore.sh"

DEFAULT_SITE = """\
server {
    listen 80 default_server;
    root /var/www/html;

    index index.html;
    server_name _;
}
"""
STUB_NGINX = """\
#!/bin/sh
# nginx -t: fails if nginx.conf includes a file that is missing; nginx -s reload: logged.
conf="$PWS_RESTORE_ROOT/etc/nginx/nginx.conf"
case "$1" in
-t)
    n=$(( $(cat "$PWS_RESTORE_ROOT/nginx-checks" 2>/dev/null || echo 0) + 1 ))
    echo "$n" > "$PWS_RESTORE_ROOT/nginx-checks"
    [ "$n" != "${KILL_AT_CHECK:-}" ] || { kill -9 "$PPID"; exit 1; }
    for f in $(sed -n 's/.*include \\([^;*]*\\);.*/\\1/p' "$conf"); do
        [ -e "$PWS_RESTORE_ROOT/etc/nginx/$f" ] || { echo "nginx: [emerg] open() $f failed"; exit 1; }
    done
    echo "nginx: configuration file $conf test is successful" ;;
-s) echo "$2" >> "$PWS_RESTORE_ROOT/nginx-signals" ;;
esac
"""


class Tree:
    """An /etc/nginx under a temp root, pws's state beside it, and the restore to run."""

    def __init__(self, root: Path):
        self.root = root
        self.nginx = root / "etc" / "nginx"
        self.state = NginxState(Paths(root=root))
        self.backups = root / "var" / "backups" / "pws"

    def p(self, rel: str) -> Path:
        return self.nginx / rel

    def entry(self, rel: str) -> Entry:
        return manifest.entry_for(self.nginx, rel)

    def scan(self) -> dict[str, Entry]:
        return {e.path: e for e in manifest.scan(self.nginx)} if self.nginx.exists() else {}

    def restore(self, nginx: bool = False, env: dict | None = None) -> subprocess.CompletedProcess:
        full = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8",
                "PWS_RESTORE_ROOT": str(self.root), **(env or {})}
        if nginx:
            stub = self.root / "nginx-stub"
            stub.write_text(STUB_NGINX)
            stub.chmod(0o755)
            full["PWS_RESTORE_NGINX"] = str(stub)
        return subprocess.run(["sh", "-ec", f". {RESTORE_SH}; pws_nginx_restore"],
                              env=full, capture_output=True, text=True, timeout=60)

    def backup_dirs(self) -> list[Path]:
        return sorted(self.backups.glob("purge-*")) if self.backups.exists() else []


@pytest.fixture
def tree(tmp_path) -> Tree:
    """A Debian-like /etc/nginx the admin has customised, before pws."""
    t = Tree(tmp_path)
    for d in ("sites-available", "sites-enabled", "conf.d"):
        t.p(d).mkdir(parents=True)
    t.p("nginx.conf").write_text("events {}\nhttp {\n    include conf.d/*.conf;\n"
                                 "    include sites-enabled/*;\n}\n")
    t.p("sites-available/default").write_text(DEFAULT_SITE)
    os.symlink("/etc/nginx/sites-available/default", t.p("sites-enabled/default"))
    t.p("conf.d/tuning.conf").write_text("server_names_hash_bucket_size 128;\n")
    t.p("conf.d/tuning.conf").chmod(0o640)
    t.p("logo.bin").write_bytes(b"\x00\x01binary\x00")
    if os.geteuid() == 0:
        os.chown(t.p("sites-available/default"), 1234, 1234)
    t.state.ensure_snapshot()
    return t


def run_ok(t: Tree, **kw) -> str:
    proc = t.restore(**kw)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr == "", proc.stderr
    return proc.stdout


# ---------------------------------------------------------------- pws's writes


def pws_create(t):
    t.state.write_file(t.p("sites-available/pws-a.conf"), "server { server_name a; }\n")
    return "sites-available/pws-a.conf"


def pws_change(t):
    t.state.write_file(t.p("sites-available/default"),
                       DEFAULT_SITE.replace("default_server", "reuseport"), 0o640)
    return "sites-available/default"


def pws_remove(t):
    t.state.remove(t.p("sites-enabled/default"))
    return "sites-enabled/default"


def pws_link(t):
    t.state.symlink(t.p("sites-enabled/pws-a.conf"), "../sites-available/pws-a.conf")
    return "sites-enabled/pws-a.conf"


def pws_link_to_file(t):
    t.state.write_file(t.p("sites-enabled/default"), "server { pws; }\n")
    return "sites-enabled/default"


def pws_change_binary(t):
    t.state.write_file(t.p("logo.bin"), "text now\n")
    return "logo.bin"


def pws_create_in_new_dir(t):
    t.state.write_file(t.p("snippets/pws-proxy.conf"), "proxy_set_header Host $host;\n")
    return "snippets/pws-proxy.conf"


# ---------------------------------------------------------------- the admin's, after pws


def admin_edit(t, rel):
    t.p(rel).write_text("# the admin's own version\n")


def admin_edit_apart(t, rel):
    t.p(rel).write_text(t.p(rel).read_text().replace("index index.html;", "index index.htm;"))


def admin_edit_overlap(t, rel):
    t.p(rel).write_text(t.p(rel).read_text().replace("listen 80 reuseport;", "listen 8080;"))


def admin_delete(t, rel):
    t.p(rel).unlink()


def admin_chmod(t, rel):
    t.p(rel).chmod(0o600)


def admin_chown(t, rel):
    os.chown(t.p(rel), 1234, 1234)


def admin_revert(t, rel):
    t.p(rel).write_text(DEFAULT_SITE)
    t.p(rel).chmod(0o644)
    os.chown(t.p(rel), 1234, 1234)


def admin_recreate_other(t, rel):
    os.symlink("/etc/nginx/sites-available/mine", t.p(rel))


def admin_recreate_same(t, rel):
    os.symlink("/etc/nginx/sites-available/default", t.p(rel))


def admin_relink(t, rel):
    t.p(rel).unlink()
    os.symlink("../sites-available/default", t.p(rel))


def admin_edit_binary(t, rel):
    t.p(rel).write_bytes(b"\x00admin\x00")


def admin_add_beside(t, rel):
    (t.p(rel).parent / "mine.conf").write_text("# the admin's\n")


# What the path must be after the purge: "base" (B), "admin" (C as the admin left it),
# or a check of its own; and a line the restore must print ("" = it prints no line for it).
@dataclass
class Case:
    pws: object
    admin: object
    expect: object
    says: str


def merged_apart(t, rel, before_purge):
    text = t.p(rel).read_text()
    assert text == DEFAULT_SITE.replace("index index.html;", "index index.htm;")
    e = t.entry(rel)
    assert (e.mode, e.owner) == ("0644", "1234:1234" if os.geteuid() == 0 else e.owner)


def merged_mode_only(t, rel, before_purge):
    assert t.p(rel).read_text() == DEFAULT_SITE
    e = t.entry(rel)
    assert e.mode == "0600"  # the admin's chmod stays, pws's content and owner are undone
    if os.geteuid() == 0:
        assert e.owner == "1234:1234"


def conflict_saved(t, rel, before_purge):
    assert t.entry(rel) == before_purge[rel]
    [bk] = t.backup_dirs()
    saved = bk / "nginx" / rel
    assert saved.read_bytes() == tarfile.open(t.state.dir / "base.tar").extractfile(
        f"nginx/{rel}").read()


def dir_gone(t, rel, before_purge):
    assert not t.p("snippets").exists()


def dir_kept(t, rel, before_purge):
    assert t.entry(rel).type == ABSENT
    assert sorted(os.listdir(t.p("snippets"))) == ["mine.conf"]


CASES = {
    "create/untouched": Case(pws_create, None, "base", "removed sites-available/pws-a.conf (pws made it)."),
    "create/edited": Case(pws_create, admin_edit, "admin",
                          "kept sites-available/pws-a.conf: pws made it and you edited it since"),
    "create/deleted": Case(pws_create, admin_delete, "base", ""),
    "create/chmod": Case(pws_create, admin_chmod, "admin", "kept sites-available/pws-a.conf"),
    "create/chown": Case(pws_create, admin_chown, "admin", "kept sites-available/pws-a.conf"),
    "change/untouched": Case(pws_change, None, "base",
                             "restored sites-available/default (pws had changed it)."),
    "change/edited apart": Case(pws_change, admin_edit_apart, merged_apart,
                                "merged sites-available/default: your edits kept, pws's change undone."),
    "change/edited overlapping": Case(pws_change, admin_edit_overlap, conflict_saved,
                                      "kept sites-available/default: your edits overlap what pws changed; "
                                      "the version from before pws is saved as "),
    "change/chmod": Case(pws_change, admin_chmod, merged_mode_only, "merged sites-available/default"),
    "change/deleted": Case(pws_change, admin_delete, "admin",
                           "kept sites-available/default: you deleted it after pws wrote it, so it stays absent."),
    "change/reverted": Case(pws_change, admin_revert, "base", ""),
    "remove/untouched": Case(pws_remove, None, "base", "recreated sites-enabled/default (pws had removed it)."),
    "remove/recreated other": Case(pws_remove, admin_recreate_other, "admin",
                                   "kept sites-enabled/default: you made it again after pws removed it."),
    "remove/recreated same": Case(pws_remove, admin_recreate_same, "base", ""),
    "link/untouched": Case(pws_link, None, "base", "removed sites-enabled/pws-a.conf (pws made it)."),
    "link/relinked": Case(pws_link, admin_relink, "admin", "kept sites-enabled/pws-a.conf"),
    "link/deleted": Case(pws_link, admin_delete, "base", ""),
    "link replaced by a file/untouched": Case(pws_link_to_file, None, "base",
                                              "restored sites-enabled/default (pws had changed it)."),
    "binary/edited": Case(pws_change_binary, admin_edit_binary, conflict_saved,
                          "kept logo.bin: pws and you both changed it, and diff3 cannot merge it"),
    "new dir/untouched": Case(pws_create_in_new_dir, None, dir_gone, "removed the directory snippets (empty)."),
    "new dir/admin file beside": Case(pws_create_in_new_dir, admin_add_beside, dir_kept,
                                      "kept the directory snippets: pws made it, but it is not empty."),
}


@pytest.mark.parametrize("name", list(CASES))
def test_the_three_way_table(tree, name):
    case = CASES[name]
    if case.admin in (admin_chown, admin_revert) and os.geteuid() != 0:
        pytest.skip("chown needs root")
    rel = case.pws(tree)
    if case.admin:
        case.admin(tree, rel)
    admin_edits = {"conf.d/admin.conf": "# added by the admin after pws\n"}
    tree.p("conf.d/admin.conf").write_text(admin_edits["conf.d/admin.conf"])
    tree.p("nginx.conf").write_text(tree.p("nginx.conf").read_text() + "# tuned by the admin\n")
    before_purge = tree.scan()
    base = tree.state.base()

    out = run_ok(tree)

    after = tree.scan()
    if case.expect == "base":
        assert after.get(rel) == base.get(rel), out
    elif case.expect == "admin":
        assert tree.entry(rel) == before_purge.get(rel, Entry(rel, ABSENT)), out
    else:
        case.expect(tree, rel, before_purge)
    untouched = {k: v for k, v in before_purge.items() if k != rel and not k.startswith("snippets")}
    assert {k: v for k, v in after.items() if k in untouched} == untouched, "touched other paths"
    if case.says:
        assert case.says in out
    else:
        assert "restore; every path" in out and "removed" not in out and "kept" not in out, out

    again = run_ok(tree)
    assert tree.scan() == after, "a second run changed the tree"
    assert "continuing an earlier, interrupted restore." in again
    assert not any(f"pws: {w} " in again for w in ("removed", "restored", "recreated", "merged")), again
    assert len(tree.backup_dirs()) <= 1


def test_a_whole_pws_lifetime_gives_back_the_base_tree(tree):
    """Two sites made, one removed, one disabled (apt remove) and re-enabled: all undone."""
    pristine = tree.scan()
    for name in ("one", "two"):
        tree.state.write_file(tree.p(f"sites-available/pws-{name}.conf"), f"server {{ {name}; }}\n")
        tree.state.symlink(tree.p(f"sites-enabled/pws-{name}.conf"), f"../sites-available/pws-{name}.conf")
    tree.state.remove(tree.p("sites-enabled/pws-two.conf"))
    tree.state.remove(tree.p("sites-available/pws-two.conf"))
    tree.state.remove(tree.p("sites-enabled/pws-one.conf"))
    tree.state.symlink(tree.p("sites-enabled/pws-one.conf"), "../sites-available/pws-one.conf")
    tree.state.remove(tree.p("sites-enabled/pws-one.conf"))
    out = run_ok(tree)
    assert tree.scan() == pristine
    assert out.splitlines()[-1].endswith("0 restored, 1 removed, 0 merged, 0 kept as you changed "
                                          "them; nothing else touched.")


def test_the_python_preview_agrees_with_the_shell(tree):
    """`pws nginx status` says what the purge will do to each path; the shell does just that."""
    admin_relink(tree, pws_link(tree))
    pws_create(tree)
    admin_edit_apart(tree, pws_change(tree))
    pws_remove(tree)
    pws_change_binary(tree)
    admin_delete(tree, pws_create_in_new_dir(tree))
    admin_edit(tree, "nginx.conf")
    preview = {s.path: s.at_purge for s in compare.changed(tree.state)}
    assert preview == {
        "logo.bin": "purge restores the original",
        "nginx.conf": "purge leaves it as it is",
        "sites-available/default": "purge merges your edits into the original, or keeps yours "
                                   "and saves the original in /var/backups/pws",
        "sites-available/pws-a.conf": "purge removes it",
        "sites-enabled/default": "purge recreates it",
        "sites-enabled/pws-a.conf": "purge keeps your version",
        "snippets": "purge removes it if it is empty",
        "snippets/pws-proxy.conf": "purge leaves it as it is",
    }
    out = run_ok(tree)
    done = {"removes": "removed", "restores": "restored", "recreates": "recreated",
            "keeps": "kept", "merges": "merged"}
    for rel, action in preview.items():
        verb = action.split()[1]
        if rel == "snippets":
            assert "pws: removed the directory snippets (empty)." in out
        elif verb in done:
            assert f"pws: {done[verb]} {rel}" in out, (rel, action, out)
        else:
            assert f" {rel}" not in out, (rel, out)


# ---------------------------------------------------------------- interruptions and nginx -t


def test_an_interrupted_purge_completes_when_run_again(tree, tmp_path):
    pristine = tree.scan()
    pws_change(tree)
    admin_edit_overlap(tree, "sites-available/default")  # a kept conflict, saved once
    for name in ("a", "b", "c"):
        tree.state.write_file(tree.p(f"sites-available/pws-{name}.conf"), f"{name}\n")
    pws_remove(tree)
    wrappers = tmp_path / "wrappers"
    wrappers.mkdir()
    (wrappers / "rm").write_text(
        '#!/bin/sh\ncase "$*" in *pws-b.conf*) kill -9 "$PPID"; exit 137 ;; esac\nexec /bin/rm "$@"\n')
    (wrappers / "rm").chmod(0o755)
    killed = tree.restore(env={"PATH": f"{wrappers}:/usr/sbin:/usr/bin:/sbin:/bin"})
    assert killed.returncode == -9
    assert "removed sites-available/pws-a.conf" in killed.stdout
    assert tree.p("sites-available/pws-b.conf").exists()

    out = run_ok(tree)
    assert "continuing an earlier, interrupted restore." in out
    assert "removed sites-available/pws-b.conf" in out and "pws-a.conf" not in out
    assert "recreated sites-enabled/default" in out
    expected = dict(pristine)
    expected["sites-available/default"] = tree.entry("sites-available/default")  # the admin's
    assert tree.scan() == expected
    assert len(tree.backup_dirs()) == 1


def test_nginx_failing_after_the_restore_puts_the_tree_back(tree):
    tree.state.write_file(tree.p("snippets/pws-proxy.conf"), "proxy_set_header Host $host;\n")
    pws_create(tree)
    # The admin makes their own config depend on a file pws made.
    tree.p("nginx.conf").write_text(tree.p("nginx.conf").read_text().replace(
        "http {\n", "http {\n    include snippets/pws-proxy.conf;\n"))
    before = tree.scan()
    out = run_ok(tree, nginx=True)
    assert "after the restore `nginx -t` failed:" in out
    assert "open() snippets/pws-proxy.conf failed" in out
    assert "was put back as it was before the purge" in out
    assert tree.scan() == before
    [bk] = tree.backup_dirs()
    assert sorted(p.name for p in bk.iterdir()) == ["base.tar", "prepurge.tar",
                                                    "restored-but-failing.tar"]
    assert not (tree.root / "nginx-signals").exists()


def test_a_purge_killed_before_its_nginx_check_still_rolls_back_when_run_again(tree):
    tree.state.write_file(tree.p("snippets/pws-proxy.conf"), "proxy_set_header Host $host;\n")
    tree.p("nginx.conf").write_text(tree.p("nginx.conf").read_text().replace(
        "http {\n", "http {\n    include snippets/pws-proxy.conf;\n"))
    before = tree.scan()
    killed = tree.restore(nginx=True, env={"KILL_AT_CHECK": "2"})  # after the restore
    assert killed.returncode == -9 and "removed snippets/pws-proxy.conf" in killed.stdout
    out = run_ok(tree, nginx=True)
    assert "continuing an earlier, interrupted restore." in out
    assert "was put back as it was before the purge" in out
    assert tree.scan() == before


def test_nginx_is_checked_and_reloaded_after_a_good_restore(tree):
    pws_create(tree)
    out = run_ok(tree, nginx=True)
    assert "removed sites-available/pws-a.conf" in out
    assert (tree.root / "nginx-signals").read_text() == "reload\n"


def test_a_config_that_failed_before_is_not_rolled_back(tree):
    pws_create(tree)
    tree.p("nginx.conf").write_text("include missing.conf;\n")
    out = run_ok(tree, nginx=True)
    assert "removed sites-available/pws-a.conf" in out
    assert "`nginx -t` fails, as it did before the purge:" in out
    assert not (tree.root / "nginx-signals").exists()


# ---------------------------------------------------------------- nothing to restore, bad state


def test_nginx_purged_first_nothing_to_restore(tree):
    pws_create(tree)
    subprocess.run(["rm", "-rf", str(tree.nginx)], check=True)
    out = run_ok(tree)
    assert "is gone (nginx was purged): nothing to restore." in out
    assert not tree.nginx.exists()


def test_nginx_purged_with_pws_files_left_removes_only_those(tree):
    """dpkg could not remove sites-available (a pws vhost was in it): the restore finishes."""
    pws_create(tree)
    pws_link(tree)
    for rel in ("nginx.conf", "sites-available/default", "sites-enabled/default",
                "conf.d/tuning.conf", "logo.bin"):
        tree.p(rel).unlink()
    tree.p("conf.d").rmdir()
    out = run_ok(tree)
    assert "nginx.conf is gone (nginx was purged): removing pws's files, restoring nothing." in out
    assert "removed sites-available/pws-a.conf" in out
    assert not tree.nginx.exists()


def test_missing_state_dir_touches_nothing(tree):
    pws_create(tree)
    tree.state.drop_state()
    before = tree.scan()
    out = run_ok(tree)
    assert "is missing): nothing restored." in out
    assert "remove those you no longer need:" in out and "pws-a.conf" in out
    assert tree.scan() == before


def test_no_snapshot_taken_nothing_to_restore(tmp_path):
    t = Tree(tmp_path)
    t.p("sites-available").mkdir(parents=True)
    t.state.dir.mkdir(parents=True)
    t.state.set_phase("deferred")
    out = run_ok(t)
    assert "pws never changed" in out


def _drop_base_manifest(t):
    (t.state.dir / "base.manifest").unlink()


def _malformed_line(t):
    with open(t.state.dir / "written.manifest", "a") as fh:
        fh.write("only two\tfields\n")


def _path_outside(t):
    with open(t.state.dir / "written.manifest", "a") as fh:
        fh.write("../../etc/passwd\tf\t0644\t0:0\t" + "0" * 64 + "\n")


def _base_tar_altered(t):
    with tarfile.open(t.state.dir / "base.tar", "a") as tar:
        info = tarfile.TarInfo("nginx/nginx.conf")
        data = b"tampered\n"
        info.size = len(data)
        import io
        tar.addfile(info, io.BytesIO(data))


def _base_tar_garbage(t):
    (t.state.dir / "base.tar").write_bytes(b"not a tar file")


@pytest.mark.parametrize("damage, says", [
    (_drop_base_manifest, "base.manifest is missing"),
    (_malformed_line, "written.manifest has malformed lines"),
    (_path_outside, "written.manifest names paths outside /etc/nginx"),
    (_base_tar_altered, "base.tar does not match base.manifest at nginx.conf"),
    (_base_tar_garbage, "base.tar cannot be read"),
])
def test_a_damaged_state_touches_nothing_and_keeps_a_copy(tree, damage, says):
    pws_create(tree)
    pws_remove(tree)
    damage(tree)
    before = tree.scan()
    out = run_ok(tree)
    assert "is damaged: " in out and says in out, out
    assert "was left exactly as it is" in out
    assert tree.scan() == before
    [bk] = tree.backup_dirs()
    assert (bk / "state" / "written.manifest").exists()
    assert not list(tree.state.dir.glob(".work.*"))


def test_what_the_purge_keeps_beside_the_state_is_private(tree):
    """prepurge.tar is a copy of /etc/nginx (keys included): 0600 whatever the caller's umask."""
    pws_create(tree)
    pws_change(tree)
    full = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8",
            "PWS_RESTORE_ROOT": str(tree.root)}
    proc = subprocess.run(["sh", "-ec", f"umask 000; . {RESTORE_SH}; pws_nginx_restore"],
                          env=full, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    made = [tree.state.dir / "prepurge.tar", tree.state.dir / "prepurge.nginx-t"]
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in made} == \
        {"prepurge.tar": "0o600", "prepurge.nginx-t": "0o600"}
