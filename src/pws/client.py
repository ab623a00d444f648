"""The CLI run by an ordinary user: the request goes to pwsd, which acts within their grant.

`--from PATH` is read here, with the caller's own rights, and sent as a tar stream (links as
links, never followed; what mksite never copies left out): pwsd never opens a path a user
names. Output and exit code come back as frames (daemon/protocol.py).
"""
from __future__ import annotations

import argparse
import os
import socket
import stat
import sys
import tarfile
import tempfile
from pathlib import Path

from .commands.mksite import COPY_IGNORE
from .daemon import protocol
from .errors import InvalidInput, PwsError
from .grants import GROUP

SOCKET = "/run/pws/pwsd.sock"


def forward(prog: str, argv: list[str], args: argparse.Namespace) -> int:
    try:  # connected first: who may not use pwsd learns it before their project is read
        with _connect(prog) as sock, tempfile.TemporaryFile() as source:
            size = _pack(Path(args.source), source) if getattr(args, "source", None) else 0
            source.seek(0)
            return _exchange(sock, protocol.Request(prog, list(argv), size), source)
    except PwsError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # the connection closes: pwsd stops the command (it unwinds)
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def _ignored(name: str) -> bool:
    return name in COPY_IGNORE or any(name.endswith(p[1:]) for p in COPY_IGNORE
                                      if p.startswith("*"))


def _pack(given: Path, out) -> int:
    top = given.expanduser()
    try:
        is_dir = top.is_dir()
    except OSError:  # a directory the caller may not enter
        is_dir = False
    if not is_dir:
        raise InvalidInput(f"--from {given}: no such directory (or not yours to read).",
                           "give the path of the project's top directory.")
    skipped: list[str] = []
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for folder, dirs, files in os.walk(top, followlinks=False, onerror=_unreadable):
            dirs[:] = sorted(d for d in dirs if not _ignored(d))
            rel = os.path.relpath(folder, top)
            for name in sorted(dirs) + sorted(f for f in files if not _ignored(f)):
                path = os.path.join(folder, name)
                arcname = name if rel == "." else f"{rel}/{name}"
                mode = os.lstat(path).st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                    skipped.append(arcname)
                    continue
                try:
                    tar.add(path, arcname=arcname, recursive=False)
                except PermissionError as exc:
                    _unreadable(exc)
                if out.tell() > protocol.MAX_SOURCE:
                    raise InvalidInput(f"{given} is more than {protocol.MAX_SOURCE >> 20} MiB.",
                                       "leave out data, venvs and build output.")
    for name in skipped[:10]:
        print(f"warning: not sent (not a file, directory or link): {name}", file=sys.stderr)
    return out.tell()


def _unreadable(exc: OSError) -> None:
    raise InvalidInput(f"{exc.filename}: you may not read it.",
                       "deploy only what your own user can read.")


def _connect(prog: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(SOCKET)
    except FileNotFoundError:
        sock.close()
        raise PwsError(f"pwsd is not running (no {SOCKET}).",
                       "run it as root, or ask the admin to start pwsd.socket.") from None
    except PermissionError:
        sock.close()
        raise PwsError(f"{prog} needs root, or a grant: only root and the group {GROUP} may "
                       "use pwsd.", "ask the admin for `pws grant USER ...`, then log in "
                       "again.") from None
    except ConnectionRefusedError:
        sock.close()
        raise PwsError("pwsd refused the connection.", "ask the admin: systemctl status "
                       "pwsd.socket.") from None
    return sock


def _exchange(sock: socket.socket, request: protocol.Request, source) -> int:
    sock.sendall(protocol.encode_request(request))
    if request.source_bytes:
        sock.sendfile(source)
    outputs = {protocol.STDOUT: sys.stdout, protocol.STDERR: sys.stderr}
    while True:
        frame = protocol.read_frame(sock)
        if frame is None:
            raise PwsError("pwsd closed the connection without an exit code.",
                           "see `journalctl -u 'pwsd@*'` as the admin.")
        kind, payload = frame
        if kind == protocol.EXIT:
            return int(payload or b"1")
        stream = outputs.get(kind)
        if stream is not None:
            stream.flush()
            stream.buffer.write(payload)
            stream.buffer.flush()
