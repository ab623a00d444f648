"""Real HTTP requests to a site: through its gunicorn socket, or through nginx."""
from __future__ import annotations

import http.client
import socket
import time
from pathlib import Path


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def get(host: str, path: str = "/", *, unix: Path | None = None, port: int = 80,
        timeout: float = 5.0) -> int:
    """The HTTP status of GET path with Host: host; raises OSError if nothing answers."""
    conn = (_UnixConnection(unix, timeout) if unix else
            http.client.HTTPConnection("127.0.0.1", port, timeout=timeout))
    try:
        conn.request("GET", path, headers={"Host": host, "User-Agent": "pws-probe"})
        return conn.getresponse().status
    except http.client.HTTPException as exc:
        raise OSError(str(exc)) from exc
    finally:
        conn.close()


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
        time.sleep(0.2)
    return None
