"""pwsd's protocol, the tar checks, the grants and the policy (without a daemon: the system
tier, tests/system/test_delegation.py, runs the real one)."""
import argparse
import io
import json
import socket
import tarfile
import threading

import pytest

from pws import audit, cli, grants, site as sitemod
from pws.daemon import policy, protocol, unpack
from pws.daemon.protocol import BadRequest
from pws.errors import InvalidInput, SiteNotFound
from pws.grants import Grant, NotGranted
from pws.paths import Paths
from pws.site import Site

ALICE = policy.Caller(uid=1000, gid=1000, pid=1, user="alice")


def parse_line(raw: bytes) -> protocol.Request:
    return protocol.parse_header(protocol.read_header_line(io.BytesIO(raw)))


# ------------------------------------------------------------------ protocol
def test_a_request_round_trips():
    request = protocol.Request("mksite", ["wsgi", "api", "--from", "x"], 1234)
    assert parse_line(protocol.encode_request(request) + b"tar bytes") == request


@pytest.mark.parametrize("raw,message", [
    (b"{nope\n", "not JSON"),
    (b"\xff\xfe\n", "not JSON"),
    (b"[1]\n", "not a JSON object"),
    (b'{"v": 1}', "ended before its header line did"),
    (b'{"v": 2, "prog": "pws", "argv": []}\n', "Protocol version 2"),
    (b'{"v": 1, "prog": "bash", "argv": []}\n', "Unknown program 'bash'"),
    (b'{"v": 1, "prog": "pws", "argv": [], "uid": 0}\n', "Unknown request field(s): uid"),
    (b'{"v": 1, "prog": "pws", "argv": "list"}\n', "argv must be a list"),
    (b'{"v": 1, "prog": "pws", "argv": ["a\\u0000b"]}\n', "argv must be a list"),
    (b'{"v": 1, "prog": "pws", "argv": [], "source_bytes": -1}\n', "source_bytes must be"),
    (b'{"v": 1, "prog": "pws", "argv": [], "source_bytes": true}\n', "source_bytes must be"),
    (b'{"v": 1, "prog": "pws", "argv": [], "source_bytes": 1e12}\n', "source_bytes must be"),
    (b"[" * 100_000 + b"\n", "longer than 65536 bytes"),
    (b"[" * 60_000 + b"\n", "not JSON"),  # deep nesting: RecursionError, one clear line
])
def test_bad_headers_are_refused_with_one_message(raw, message):
    with pytest.raises(BadRequest, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_line(raw)


def test_too_many_arguments_are_refused():
    raw = json.dumps({"v": 1, "prog": "pws", "argv": ["x"] * 257}).encode() + b"\n"
    with pytest.raises(BadRequest, match="at most 256"):
        parse_line(raw)


def test_frames_round_trip_over_a_socket_pair():
    a, b = socket.socketpair()
    frames = []

    def read():
        while (frame := protocol.read_frame(b)) is not None:
            frames.append(frame)

    reader = threading.Thread(target=read)
    reader.start()
    with a, b:
        protocol.send_frame(a, protocol.STDOUT, b"x" * (protocol.MAX_FRAME + 5))
        protocol.send_exit(a, 3)
        a.shutdown(socket.SHUT_WR)
        reader.join(10)
    assert [k for k, _ in frames] == [b"o", b"o", b"x"]
    assert sum(len(p) for k, p in frames if k == b"o") == protocol.MAX_FRAME + 5
    assert frames[-1] == (b"x", b"3")


# ------------------------------------------------------------------ the project's tar
def tar_of(*members) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, kind, link in members:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, link
            data = b"data" if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            info.mode = 0o6777
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def unpacked(tmp_path, *members):
    archive = tmp_path / "p.tar"
    archive.write_bytes(tar_of(*members))
    dest = tmp_path / "src"
    dest.mkdir()
    unpack.unpack(archive, dest)
    return dest


def test_files_dirs_and_inner_links_unpack_with_safe_modes(tmp_path):
    dest = unpacked(tmp_path, ("pkg", tarfile.DIRTYPE, ""), ("pkg/app.py", tarfile.REGTYPE, ""),
                    ("app.py", tarfile.SYMTYPE, "pkg/app.py"))
    assert (dest / "pkg/app.py").read_bytes() == b"data"
    assert (dest / "app.py").is_symlink()
    assert (dest / "pkg/app.py").stat().st_mode & 0o7000 == 0  # no setuid, setgid, sticky


@pytest.mark.parametrize("members,message", [
    ([("../x", tarfile.REGTYPE, "")], "points outside it"),
    ([("a/../../x", tarfile.REGTYPE, "")], "points outside it"),
    ([("/etc/x", tarfile.REGTYPE, "")], "points outside it"),
    ([("h", tarfile.LNKTYPE, "/etc/shadow")], "not a file, directory or link"),
    ([("dev", tarfile.CHRTYPE, "")], "not a file, directory or link"),
    ([("fifo", tarfile.FIFOTYPE, "")], "not a file, directory or link"),
    ([("l", tarfile.SYMTYPE, "/etc/shadow")], "a link to '/etc/shadow', outside the project"),
    ([("a/l", tarfile.SYMTYPE, "../../etc")], "outside the project"),
    ([("d", tarfile.DIRTYPE, ""), ("l", tarfile.SYMTYPE, "d"), ("l/x", tarfile.REGTYPE, "")],
     "'l/x' comes twice, or below a link"),
    ([("x", tarfile.REGTYPE, ""), ("x", tarfile.SYMTYPE, "y")], "comes twice"),
])
def test_dangerous_members_are_refused_before_anything_is_written(tmp_path, members, message):
    with pytest.raises(BadRequest, match=message):
        unpacked(tmp_path, *members)
    assert list((tmp_path / "src").iterdir()) == []


def test_not_a_tar_is_one_clear_error(tmp_path):
    archive = tmp_path / "p.tar"
    archive.write_bytes(b"garbage" * 200)
    (tmp_path / "src").mkdir()
    with pytest.raises(BadRequest, match="not a valid tar archive"):
        unpack.unpack(archive, tmp_path / "src")


# ------------------------------------------------------------------ grants
def test_a_grant_round_trips_and_matches_domains(tmp_path):
    paths = Paths(root=tmp_path)
    grants.save(paths, Grant(user="alice", domains=["*.Alice.example.org", "alice.dev"],
                             memory="512M", cpu="50%", tasks="64"))
    grant = grants.load(paths, "alice")
    assert grant.domains == ["*.alice.example.org", "alice.dev"]
    assert grant.allows_domain("api.alice.example.org") and grant.allows_domain("ALICE.dev")
    assert not grant.allows_domain("alice.example.org")  # *.X is names under X, not X
    assert not grant.allows_domain("api.alice.example.org.evil.com")
    assert not grant.allows_domain("evilalice.dev")
    assert grant.limits() == {"MemoryMax": "512M", "CPUQuota": "50%", "TasksMax": "64"}
    assert (tmp_path / "etc/pws/grants/alice.toml").stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("kw,message", [
    (dict(domains=[]), "1 to 32 domain patterns"),
    (dict(domains=["a*.example.org"]), "domain pattern"),
    (dict(domains=["*"]), "domain pattern"),
    (dict(domains=["[a-z].example.org"]), "domain pattern"),
    (dict(memory="1T"), "MemoryMax"),
    (dict(cpu="50"), "CPUQuota"),
    (dict(tasks="0"), "TasksMax"),
    (dict(user="../root"), "is not a user name"),
    (dict(databases=["mysql"]), "database kind"),
    (dict(max_sites=-1), "max_sites"),
])
def test_bad_grants_are_refused(kw, message):
    with pytest.raises(InvalidInput, match=message):
        Grant(**{"user": "alice", "domains": ["*.alice.example.org"], **kw}).check()


def test_no_grant_is_a_clear_refusal(tmp_path):
    with pytest.raises(NotGranted, match="alice has no grant"):
        grants.require(Paths(root=tmp_path), "alice")


# ------------------------------------------------------------------ policy
@pytest.fixture
def world(tmp_path):
    paths = Paths(root=tmp_path)
    grants.save(paths, Grant(user="alice", domains=["*.alice.example.org"], max_sites=2,
                             formulae=["wsgi"]))
    for name, owner in (("api", "alice"), ("shop", "bob"), ("admins", "")):
        sitemod.save(paths, Site(name=name, formula="wsgi", app="app:app",
                                 domains=[f"{name}.example.org"], owner=owner))
    return paths


def pws_args(*argv):
    return cli.pws_parser().parse_args(list(argv))


def mksite_args(*argv):
    return cli.mksite_parser().parse_args(list(argv))


@pytest.mark.parametrize("argv", [["list"], ["audit"], ["status", "api"], ["env", "api", "set",
                                  "A=1"], ["rollback", "api"], ["logs", "api", "-n", "5"]])
def test_own_sites_are_allowed(world, argv):
    policy.authorize(world, ALICE, "pws", pws_args(*argv), has_source=False)


@pytest.mark.parametrize("argv,error,message", [
    (["status", "shop"], SiteNotFound, "You have no site named 'shop'"),
    (["status", "admins"], SiteNotFound, "You have no site named 'admins'"),
    (["status", "nosuch"], SiteNotFound, "You have no site named 'nosuch'"),
    (["status", "../etc"], SiteNotFound, "You have no site named '../etc'"),
    (["apply", "api"], NotGranted, "`pws apply` is for the admin"),
    (["run", "api", "id"], NotGranted, "`pws run` is for the admin"),
    (["grant", "alice", "--domains", "*"], NotGranted, "`pws grant` is for the admin"),
    (["restart", "--all"], NotGranted, "--all acts on every site"),
    (["deploy", "api", "--git", "/home/bob/x"], NotGranted, "only remote repositories"),
    (["deploy", "api", "--git", "file:///home/bob/x"], NotGranted, "only remote repositories"),
    (["deploy", "api", "--git", "ext::sh -c id"], NotGranted, "only remote repositories"),
    (["env", "api", "set", "TOKEN"], NotGranted, "A bare KEY reads its value from a terminal"),
])
def test_everything_else_is_refused(world, argv, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(")):
        policy.authorize(world, ALICE, "pws", pws_args(*argv), has_source=False)


def test_from_goes_with_content_and_only_with_it(world):
    with pytest.raises(NotGranted, match="--from must come with"):
        policy.authorize(world, ALICE, "pws", pws_args("deploy", "api", "--from", "/etc"), False)
    with pytest.raises(NotGranted, match="--from must come with"):
        policy.authorize(world, ALICE, "pws", pws_args("status", "api"), True)
    policy.authorize(world, ALICE, "pws", pws_args("deploy", "api", "--from", "x"), True)


@pytest.mark.parametrize("argv,message", [
    (["wsgi", "x", "--domain", "x.bob.example.org"], "outside the domains granted to you"),
    (["wsgi", "x", "--domain", "alice.example.org"], "outside the domains granted to you"),
    (["wsgi", "x"], "Give the site's domain"),
    (["django", "x", "--domain", "x.alice.example.org"], "does not include the formula"),
    (["wsgi", "x", "--domain", "x.alice.example.org", "--db", "postgresql"],
     "does not include postgresql databases"),
    (["wsgi", "x", "--domain", "x.alice.example.org", "--owner", "bob"], "--owner is for"),
    (["wsgi", "x", "--domain", "x.alice.example.org", "--tls"], "--tls is for the admin"),
])
def test_mksite_within_the_grant_only(world, argv, message):
    with pytest.raises(NotGranted, match=message):
        policy.authorize(world, ALICE, "mksite", mksite_args(*argv), has_source=False)


def test_max_sites(world):
    args = mksite_args("wsgi", "x", "--domain", "x.alice.example.org")
    policy.authorize(world, ALICE, "mksite", args, has_source=False)  # 1 of 2
    sitemod.save(world, Site(name="two", formula="wsgi", app="a:app", domains=["t.example.org"],
                             owner="alice"))
    with pytest.raises(NotGranted, match="You own 2 site"):
        policy.authorize(world, ALICE, "mksite", args, has_source=False)


def test_rmsite_of_another_users_site(world):
    args = cli.rmsite_parser().parse_args(["shop", "--yes"])
    with pytest.raises(SiteNotFound, match="You have no site named 'shop'"):
        policy.authorize(world, ALICE, "rmsite", args, has_source=False)


# ------------------------------------------------------------------ site owner, audit
def test_owner_and_limits_are_validated_in_site_toml():
    with pytest.raises(InvalidInput, match="not a user name"):
        Site(name="a", formula="wsgi", app="a:app", domains=["a.example.org"],
             owner="Robert'); DROP").check()
    with pytest.raises(InvalidInput, match="unknown setting 'ExecStartPre'"):
        Site(name="a", formula="wsgi", app="a:app", domains=["a.example.org"],
             limits={"ExecStartPre": "/bin/sh"}).check()
    with pytest.raises(InvalidInput, match="MemoryMax"):
        Site(name="a", formula="wsgi", app="a:app", domains=["a.example.org"],
             limits={"MemoryMax": "1G\nExecStartPre=/bin/sh"}).check()


def test_audit_never_records_env_values(tmp_path):
    paths = Paths(root=tmp_path)
    audit.record(paths, who="alice", uid=1000, via="pwsd", prog="pws", command="env",
                 argv=["env", "api", "set", "TOKEN=s3cret", "--show"], site="api", result=0)
    (entry,) = audit.entries(paths)
    assert entry["argv"] == ["env", "api", "set", "TOKEN=***", "--show"]
    assert "s3cret" not in (tmp_path / "var/log/pws/audit.log").read_text()


def test_pwsd_is_a_reserved_site_name():
    with pytest.raises(InvalidInput, match="reserved"):
        Site(name="pwsd", formula="wsgi", app="a:app", domains=["a.example.org"]).check()


def test_the_cli_parsers_know_the_new_commands():
    for argv in (["grant", "bob", "--domains", "b.dev"], ["grants"], ["revoke", "bob"],
                 ["audit", "api"], ["git", "api"]):
        assert isinstance(pws_args(*argv), argparse.Namespace)
