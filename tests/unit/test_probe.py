"""probe.get against real sockets served by threads: well-formed answers, and apps that drip,
stall, close early or answer garbage. Every request ends by its total deadline."""
from __future__ import annotations

import socket
import threading
import time
from contextlib import contextmanager

import pytest

from pws import probe


@contextmanager
def server(handler, unix_path=None):
    """A listening socket whose each connection is given to handler(conn) in a thread."""
    family = socket.AF_UNIX if unix_path else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.bind(str(unix_path) if unix_path else ("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=_run, args=(handler, conn, stop), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield None if unix_path else listener.getsockname()[1]
    finally:
        stop.set()
        thread.join()
        listener.close()


def _run(handler, conn, stop):
    with conn:
        try:
            conn.recv(4096)
            handler(conn, stop)
        except OSError:
            pass  # the probe gave up and closed: what these tests expect


def answer(raw: bytes):
    return lambda conn, stop: conn.sendall(raw)


def drip(conn, stop):
    """The slow-header attack: one byte every 0.1 s, never the end of the head."""
    for byte in b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"a" * 10_000:
        if stop.wait(0.1):
            return
        conn.sendall(bytes([byte]))


def hold(conn, stop):
    stop.wait(30)


def timed_get(port, timeout):
    start = time.monotonic()
    try:
        return probe.get("blog.example.org", "/healthz", port=port, timeout=timeout)
    finally:
        timed_get.took = time.monotonic() - start


@pytest.mark.parametrize("raw,status", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 200),
    (b"HTTP/1.0 503 Service Unavailable\r\n\r\n", 503),
    (b"HTTP/1.1 404 \r\nX: y\r\n\r\n", 404),
    (b"HTTP/1.1 302 Found\nLocation: /x\n\n", 302)])
def test_the_status_of_a_well_formed_answer(raw, status):
    with server(answer(raw)) as port:
        assert timed_get(port, 2) == status


def test_a_dripping_answer_ends_at_the_total_deadline():
    with server(drip) as port:
        with pytest.raises(OSError):
            timed_get(port, 1.0)
    assert 0.9 <= timed_get.took < 1.5, timed_get.took  # each recv came in time; the whole did not


def test_an_app_that_never_answers_ends_at_the_deadline():
    with server(hold) as port:
        with pytest.raises(OSError):
            timed_get(port, 0.5)
    assert timed_get.took < 1.0


@pytest.mark.parametrize("raw", [b"garbage\r\n\r\n", b"HTTP/1.1 99 x\r\n\r\n",
                                 b"HTTP/1.1 200 OK\x00\r\n\r\n", b"HTTP/2 200\r\n\r\n",
                                 b"HTTP/1.1 200 OK\r\n", b""])
def test_garbage_or_a_cut_answer_is_an_oserror(raw):
    with server(answer(raw)) as port:
        with pytest.raises(probe.ProbeError):
            timed_get(port, 2)


def test_an_endless_head_is_cut_off():
    with server(answer(b"HTTP/1.1 200 OK\r\n" + b"X: " + b"a" * (probe.MAX_HEAD + 10))) as port:
        with pytest.raises(probe.ProbeError, match="longer than"):
            timed_get(port, 5)


def test_nothing_listening_is_an_oserror():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OSError):
        timed_get(port, 1)


def test_through_a_unix_socket(tmp_path):
    path = tmp_path / "site.sock"
    with server(answer(b"HTTP/1.1 204 No Content\r\n\r\n"), unix_path=path):
        assert probe.get("blog.example.org", "/", unix=path, timeout=2) == 204
    dripping = tmp_path / "drip.sock"
    with server(drip, unix_path=dripping):
        start = time.monotonic()
        with pytest.raises(OSError):
            probe.get("blog.example.org", "/", unix=dripping, timeout=0.8)
        assert time.monotonic() - start < 1.3


@pytest.mark.parametrize("host,path", [("a.org\r\nX: y", "/"), ("a.org", "/ HTTP/1.0\r\n"),
                                       ("a.org", "")])
def test_request_line_injection_is_refused(host, path):
    with pytest.raises(ValueError):
        probe.get(host, path, port=1, timeout=1)
