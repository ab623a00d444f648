"""Real HTTP requests to a site: through its gunicorn socket, or through nginx.

One request has one total deadline: the socket's timeout is set to what is left of it before
every connect, send and recv, so an app that drips its answer one byte a second (each recv
in time, the whole never) cannot hold the caller past the deadline."""
from __future__ import annotations

import re
import socket
import time
from pathlib import Path

MAX_HEAD = 64 * 1024
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-5][0-9][0-9])(?: [\x20-\x7e\t]*)?\r?", re.ASCII)
_TOKEN = re.compile(r"[\x21-\x7e]+", re.ASCII)  # what may go into the request line and Host


class ProbeError(OSError):
    """The site did not answer a well-formed HTTP status within the deadline."""


def get(host: str, path: str = "/", *, unix: Path | None = None, port: int = 80,
        timeout: float = 5.0) -> int:
    """The HTTP status of GET path with Host: host; raises OSError if nothing answers, or
    nothing sensible, within timeout seconds in all."""
    if not (_TOKEN.fullmatch(host) and _TOKEN.fullmatch(path)):
        raise ValueError(f"not a plain host and path: {host!r} {path!r}")
    deadline = time.monotonic() + timeout
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: pws-probe\r\n"
               "Connection: close\r\n\r\n").encode()
    family, address = ((socket.AF_UNIX, str(unix)) if unix else
                       (socket.AF_INET, ("127.0.0.1", port)))
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(_left(deadline))
        sock.connect(address)
        sock.settimeout(_left(deadline))
        sock.sendall(request)
        return _status(_read_head(sock, deadline))


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise ProbeError("no complete answer before the deadline")
    return left


def _read_head(sock: socket.socket, deadline: float) -> bytes:
    """The response up to the blank line that ends its headers."""
    head = b""
    while b"\r\n\r\n" not in head and b"\n\n" not in head:
        if len(head) > MAX_HEAD:
            raise ProbeError(f"the response head is longer than {MAX_HEAD} bytes")
        sock.settimeout(_left(deadline))
        chunk = sock.recv(4096)
        if not chunk:
            raise ProbeError("the connection closed before the response head ended")
        head += chunk
    return head


def _status(head: bytes) -> int:
    line = head.split(b"\n", 1)[0]
    match = _STATUS_LINE.fullmatch(line)
    if not match:
        raise ProbeError(f"not an HTTP status line: {line[:80]!r}")
    return int(match.group(1))


# nginx's answers while the app is (re)starting; any other 5xx is the app's own error.
NOT_UP_YET = (502, 503, 504)


def wait_until_answers(host: str, path: str = "/", *, unix: Path | None = None, port: int = 80,
                       within: float = 60.0, errors_tolerated: int = 3) -> int | None:
    """Poll until the site answers below 500; the status, or None on time-out or when the app
    itself keeps answering with a server error (a broken app is not waited out)."""
    deadline = time.monotonic() + within
    errors = 0
    while time.monotonic() < deadline:
        try:
            status = get(host, path, unix=unix, port=port, timeout=5.0)
            if status < 500:
                return status
            errors += status not in NOT_UP_YET
            if errors >= errors_tolerated:
                return None
        except OSError:
            pass
        time.sleep(0.05)  # a refused connect costs next to nothing: the wait is the user's
    return None
