"""Crafted requests straight to pwsd's socket, run inside the container by an ordinary user
(tests/system/test_delegation.py). Prints one JSON object: case -> {"code", "err"}."""
import io
import json
import socket
import struct
import sys
import tarfile

SOCK = "/run/pws/pwsd.sock"
OTHER_SITE = sys.argv[1]
OWN_SITE = sys.argv[2]


def header(prog="pws", argv=(), size=0, **extra):
    body = {"v": 1, "prog": prog, "argv": list(argv), "source_bytes": size, **extra}
    return json.dumps(body).encode() + b"\n"


def tar_of(*members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def member(name, kind=tarfile.REGTYPE, data=b"x", link=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data if kind == tarfile.REGTYPE else None


def talk(raw, close_write=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    try:
        s.sendall(raw)
        if close_write:
            s.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # pwsd refused before reading it all: its answer is what counts
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    s.close()
    err, code, pos = b"", None, 0
    while pos + 5 <= len(data):
        kind, size = struct.unpack(">cI", data[pos:pos + 5])
        payload = data[pos + 5:pos + 5 + size]
        pos += 5 + size
        if kind == b"e":
            err += payload
        elif kind == b"x":
            code = int(payload)
    return {"code": code, "err": err.decode("utf-8", "replace")}


def deploy_with(tar_bytes):
    return header(argv=["deploy", OWN_SITE, "--from", "x"], size=len(tar_bytes)) + tar_bytes


CASES = {
    "bad_json": b"{not json\n",
    "not_an_object": b"[1, 2]\n",
    "no_newline": b'{"v": 1',
    "huge_header": b'{"v": 1, "argv": ["' + b"a" * 100_000 + b'"]}\n',
    "wrong_version": json.dumps({"v": 9, "prog": "pws", "argv": []}).encode() + b"\n",
    "unknown_program": header(prog="sh", argv=["-c", "id"]),
    "unknown_field": header(argv=["list"], uid=0),
    "argv_not_strings": json.dumps({"v": 1, "prog": "pws", "argv": [1, 2]}).encode() + b"\n",
    "huge_source": header(argv=["deploy", OWN_SITE, "--from", "x"], size=10**12),
    "admin_command": header(argv=["grant", "mallory", "--domains", "*"]),
    "apply_all": header(argv=["apply", "--all"]),
    "from_without_content": header(argv=["deploy", OWN_SITE, "--from", "/etc"]),
    "content_without_from": header(argv=["status", OWN_SITE], size=len(tar_of(member("a"))))
    + tar_of(member("a")),
    "other_users_site": header(argv=["env", OTHER_SITE, "set", "PWNED=1"]),
    "site_name_path_trick": header(argv=["status", "../../etc/passwd"]),
    "rmsite_other": header(prog="rmsite", argv=[OTHER_SITE, "--yes"]),
    "mksite_owner_option": header(prog="mksite", argv=["wsgi", "mine", "--owner", "root",
                                                       "--domain", "x.alice.example.org"]),
    "git_local_path": header(argv=["deploy", OWN_SITE, "--git", "/home/bob/project"]),
    "tar_dotdot": deploy_with(tar_of(member("../../etc/pwned-dotdot"))),
    "tar_absolute": deploy_with(tar_of(member("/etc/pwned-absolute"))),
    "tar_hardlink": deploy_with(tar_of(member("shadow", tarfile.LNKTYPE, link="/etc/shadow"))),
    "tar_device": deploy_with(tar_of(member("mem", tarfile.CHRTYPE))),
    "tar_link_outside": deploy_with(tar_of(member("etc", tarfile.SYMTYPE, link="../../etc"))),
    # a link inside the project, then a file written through it (were links followed)
    "tar_below_link": deploy_with(tar_of(member("sub", tarfile.DIRTYPE),
                                         member("d", tarfile.SYMTYPE, link="sub"),
                                         member("d/pwned-below-link"))),
    "tar_garbage": deploy_with(b"this is not a tar archive" * 40),
    "short_stream": header(argv=["deploy", OWN_SITE, "--from", "x"], size=1000) + b"0" * 10,
}

results = {}
for name, raw in CASES.items():
    results[name] = talk(raw, close_write=name in ("short_stream", "no_newline"))
print(json.dumps(results))
