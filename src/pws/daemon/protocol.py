"""pwsd's wire protocol, version 1 (one request per connection).

Client -> pwsd: one JSON header line of at most MAX_HEADER bytes,
    {"v": 1, "prog": "pws"|"mksite"|"rmsite", "argv": [str, ...], "source_bytes": N}
then, when source_bytes > 0, exactly that many bytes: a tar of the --from directory, made by
the client with the caller's own rights (at most MAX_SOURCE bytes).
pwsd -> client: frames of 1 kind byte + 4-byte big-endian length + payload:
    b"o" stdout bytes, b"e" stderr bytes, b"x" the exit code as ASCII digits (the last frame).
"""
from __future__ import annotations

import json
import socket
import struct
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import PwsError

VERSION = 1
MAX_HEADER = 64 * 1024
MAX_ARGS = 256
MAX_ARG = 4096
MAX_SOURCE = 256 * 1024 * 1024
PROGS = ("pws", "mksite", "rmsite")
STDOUT, STDERR, EXIT = b"o", b"e", b"x"
_FRAME = struct.Struct(">cI")
MAX_FRAME = 1 << 20


class BadRequest(PwsError):
    """A request pwsd does not understand or will not take, whatever the caller's grant."""

    exit_code = 2


@dataclass(frozen=True)
class Request:
    prog: str
    argv: list[str]
    source_bytes: int


def encode_request(request: Request) -> bytes:
    header = {"v": VERSION, "prog": request.prog, "argv": request.argv,
              "source_bytes": request.source_bytes}
    return json.dumps(header, ensure_ascii=True).encode() + b"\n"


def read_header_line(rfile: BinaryIO) -> bytes:
    """The header line, without its newline; refused past MAX_HEADER or without a newline."""
    line = rfile.readline(MAX_HEADER + 1)
    if len(line) > MAX_HEADER:
        raise BadRequest(f"The request header is longer than {MAX_HEADER} bytes.",
                         "send fewer or shorter arguments.")
    if not line.endswith(b"\n"):
        raise BadRequest("The request ended before its header line did.",
                         "send one JSON object on one line, ended by a newline.")
    return line[:-1]


def parse_header(line: bytes) -> Request:
    try:
        header = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("The request header is not JSON.",
                         "send one JSON object on one line (see pws(8), pwsd).") from None
    if not isinstance(header, dict):
        raise BadRequest("The request header is not a JSON object.", "send {\"v\": 1, ...}.")
    if header.get("v") != VERSION:
        raise BadRequest(f"Protocol version {header.get('v')!r} is not spoken here.",
                         f"use version {VERSION} (the pws of this system).")
    unknown = sorted(set(header) - {"v", "prog", "argv", "source_bytes"})
    if unknown:
        raise BadRequest(f"Unknown request field(s): {', '.join(map(str, unknown))}.",
                         "send only v, prog, argv and source_bytes.")
    prog, argv, size = header.get("prog"), header.get("argv"), header.get("source_bytes", 0)
    if prog not in PROGS:
        raise BadRequest(f"Unknown program {str(prog)[:40]!r}.", f"use one of {', '.join(PROGS)}.")
    if (not isinstance(argv, list) or len(argv) > MAX_ARGS
            or not all(isinstance(a, str) and len(a) <= MAX_ARG and "\0" not in a for a in argv)):
        raise BadRequest("argv must be a list of at most 256 strings of at most 4096 characters.",
                         "send the command's arguments as strings.")
    if type(size) is not int or not 0 <= size <= MAX_SOURCE:
        raise BadRequest(f"source_bytes must be a number from 0 to {MAX_SOURCE}.",
                         "send a smaller project (leave out data, venvs and build output).")
    return Request(prog, argv, size)


def send_frame(sock: socket.socket, kind: bytes, payload: bytes) -> None:
    for start in range(0, max(len(payload), 1), MAX_FRAME):
        part = payload[start:start + MAX_FRAME]
        sock.sendall(_FRAME.pack(kind, len(part)) + part)


def send_exit(sock: socket.socket, code: int) -> None:
    send_frame(sock, EXIT, str(code).encode())


def read_frame(sock: socket.socket) -> tuple[bytes, bytes] | None:
    """The next frame, or None when pwsd closed the connection."""
    head = _recv_exactly(sock, _FRAME.size)
    if head is None:
        return None
    kind, size = _FRAME.unpack(head)
    if size > MAX_FRAME:
        raise BadRequest("pwsd sent an oversize frame.", "check the pws versions.")
    payload = _recv_exactly(sock, size) if size else b""
    return kind, payload or b""


def _recv_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)
