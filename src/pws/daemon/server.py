"""pwsd: one process per connection (pwsd.socket, Accept=yes; the connection is stdin).

The caller is who the kernel says (SO_PEERCRED), never what the request says. The request is
read and checked (protocol, size), the project stream unpacked into a fresh root-owned dir,
then a child parses the argv with the very parsers of the CLI, checks it against the caller's
grant (policy.authorize) and runs the command's own code; its stdout and stderr are relayed as
frames, then its exit code. A client that goes away stops the command (SIGTERM: mksite undoes
its work).
"""
from __future__ import annotations

import os
import pwd
import selectors
import shutil
import signal
import socket
import struct
import sys
import tempfile
from pathlib import Path

from .. import audit, caller as callermod, cli, grants
from ..errors import PwsError
from ..paths import Paths
from . import policy, protocol, unpack
from .policy import Caller

STAGING = "/var/lib/pws/incoming"  # root's, 0700: the unpacked projects of running requests
CHUNK = 65536


def peer(sock: socket.socket) -> Caller:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", creds)
    try:
        user = pwd.getpwuid(uid).pw_name
    except KeyError:
        user = f"uid-{uid}"
    return Caller(uid=uid, gid=gid, pid=pid, user=user)


def main() -> int:
    sock = socket.socket(fileno=0)  # StandardInput=socket
    paths = Paths.from_env()
    who = peer(sock)
    try:
        return serve(sock, who, paths)
    except BrokenPipeError:
        return 0
    finally:
        sock.close()


def serve(sock: socket.socket, who: Caller, paths: Paths) -> int:
    rfile = sock.makefile("rb")
    staging, request = None, None
    try:
        request = protocol.parse_header(protocol.read_header_line(rfile))
        if who.uid != 0:
            grants.require(paths, who.user)  # before reading a byte of the project
        if request.source_bytes:
            staging = _receive(rfile, request.source_bytes, paths)
    except PwsError as exc:
        _refuse(sock, paths, who, exc, prog=request.prog if request else "?")
        return exc.exit_code
    try:
        code = _run(sock, who, request, staging)
    finally:
        if staging:
            shutil.rmtree(staging.parent, ignore_errors=True)
    protocol.send_exit(sock, code)
    return 0


def _refuse(sock: socket.socket, paths: Paths, who: Caller, exc: PwsError, prog: str) -> None:
    protocol.send_frame(sock, protocol.STDERR, f"pwsd: error: {exc}\n".encode())
    protocol.send_exit(sock, exc.exit_code)
    try:
        audit.record(paths, who=who.user, uid=who.uid, via="pwsd", prog=prog, command=prog,
                     argv=[], site="", result=exc.exit_code, error=exc.problem)
    except OSError as err:
        print(f"pwsd: audit log not written: {err}", file=sys.stderr)


def _receive(rfile, size: int, paths: Paths) -> Path:
    """The project stream into a fresh dir: STAGING/RANDOM/{project.tar -> src/}."""
    base = paths._r(STAGING)
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(base, 0o700)
    work = Path(tempfile.mkdtemp(dir=base))
    archive, dest = work / "project.tar", work / "src"
    try:
        with open(archive, "xb") as out:
            left = size
            while left:
                chunk = rfile.read(min(CHUNK, left))
                if not chunk:
                    raise protocol.BadRequest(f"The project stream ended {left} bytes short of "
                                              f"the {size} announced.", "send it whole.")
                out.write(chunk)
                left -= len(chunk)
        dest.mkdir(mode=0o700)
        unpack.unpack(archive, dest)
        archive.unlink()
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return dest


def _run(sock: socket.socket, who: Caller, request: protocol.Request, staging: Path | None) -> int:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(out_r)
        os.close(err_r)
        sock.close()
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        code = 70
        try:
            sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
            sys.stderr = os.fdopen(2, "w", buffering=1, closefd=False)
            code = run_request(who, request, staging)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    return _relay(sock, pid, {out_r: protocol.STDOUT, err_r: protocol.STDERR})


def run_request(who: Caller, request: protocol.Request, staging: Path | None) -> int:
    """In the child: parse with the CLI's own parser, authorize, run the command's code.
    stdin is /dev/null: every question takes its default, as without a terminal."""
    parser = {"pws": cli.pws_parser, "mksite": cli.mksite_parser,
              "rmsite": cli.rmsite_parser}[request.prog]()
    parser.prog = request.prog
    try:
        args = parser.parse_args(request.argv)
    except SystemExit as exc:  # argparse printed the usage error (relayed as stderr)
        return exc.code if isinstance(exc.code, int) else 2
    if who.uid != 0:
        callermod.set_user(who.user)

    def check(args, env) -> None:
        if who.uid == 0:
            return
        policy.authorize(env.paths, who, request.prog, args, staging is not None)
        if staging is not None:
            args.source = str(staging)
        if request.prog == "mksite":
            args.owner = who.user

    return cli.run_parsed(parser, args, request.argv, who=who.user, uid=who.uid, via="pwsd",
                          check=check)


def _relay(sock: socket.socket, pid: int, pipes: dict[int, bytes]) -> int:
    sel = selectors.DefaultSelector()
    for fd in pipes:
        sel.register(fd, selectors.EVENT_READ)
    sel.register(sock, selectors.EVENT_READ)  # readable: the client went away (or chatters)
    open_pipes, gone = set(pipes), False
    while open_pipes:
        for key, _ in sel.select():
            if key.fileobj is sock:
                if not _client_alive(sock):
                    gone = True
                    sel.unregister(sock)
                    _stop(pid)
                continue
            data = os.read(key.fd, CHUNK)
            if not data:
                sel.unregister(key.fd)
                os.close(key.fd)
                open_pipes.discard(key.fd)
            elif not gone:
                try:
                    protocol.send_frame(sock, pipes[key.fd], data)
                except OSError:
                    gone = True
                    sel.unregister(sock)
                    _stop(pid)
    _, status = os.waitpid(pid, 0)
    return 130 if gone else os.waitstatus_to_exitcode(status)


def _client_alive(sock: socket.socket) -> bool:
    """False once the client closed or reset the connection; bytes it sends after the request
    are read and dropped."""
    try:
        return sock.recv(CHUNK, socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def _stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
