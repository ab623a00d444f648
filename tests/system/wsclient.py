"""A websocket client in the standard library only (it runs inside the test container, whose
Debian python3 has no websocket package): through nginx on 127.0.0.1:80 with a Host header.

    python3 wsclient.py HOST PATH echo MSG...     each reply on a line (the greeting first)
    python3 wsclient.py HOST PATH hold SECONDS    the greeting, then what ends the connection:
                                                  "close CODE", "eof" or "timeout"
    python3 wsclient.py HOST PATH rate N          N echo round-trips; prints "N SECONDS"

WS_PORT=8011 connects to that port of 127.0.0.1 instead (an app served directly).
"""
import base64
import os
import socket
import struct
import sys
import time


def connect(host: str, path: str, address=("127.0.0.1", 80)) -> socket.socket:
    sock = socket.create_connection(address, timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            raise SystemExit(f"handshake: connection closed after {head!r}")
        head += chunk
    status = head.split(b"\r\n", 1)[0]
    if b" 101 " not in status:
        raise SystemExit(f"handshake refused: {status.decode()}")
    return sock


def send(sock: socket.socket, text: str, opcode: int = 1) -> None:
    data, mask = text.encode(), os.urandom(4)
    length = len(data)
    head = bytes([0x80 | opcode])
    if length < 126:
        head += bytes([0x80 | length])
    else:
        head += bytes([0x80 | 126]) + struct.pack("!H", length)
    sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))


def _exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def receive(sock: socket.socket) -> tuple[int, bytes]:
    first, second = _exact(sock, 2)
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", _exact(sock, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", _exact(sock, 8))[0]
    return first & 0x0F, _exact(sock, length)


def next_message(sock: socket.socket) -> tuple[int, bytes]:
    while True:
        opcode, data = receive(sock)
        if opcode == 9:  # ping: answer it
            send(sock, data.decode("latin-1"), opcode=10)
            continue
        return opcode, data


def main(host: str, path: str, action: str, *rest: str) -> None:
    sock = connect(host, path, ("127.0.0.1", int(os.environ.get("WS_PORT", "80"))))
    print(next_message(sock)[1].decode(), flush=True)  # the greeting
    if action == "echo":
        for message in rest:
            send(sock, message)
            print(next_message(sock)[1].decode(), flush=True)
    elif action == "hold":
        sock.settimeout(float(rest[0]))
        try:
            opcode, data = next_message(sock)
            print(f"close {struct.unpack('!H', data[:2])[0]}" if opcode == 8 and len(data) >= 2
                  else f"frame {opcode}", flush=True)
        except EOFError:
            print("eof", flush=True)
        except socket.timeout:
            print("timeout", flush=True)
    elif action == "rate":
        count, started = int(rest[0]), time.monotonic()
        for i in range(count):
            send(sock, f"m{i}")
            next_message(sock)
        print(count, round(time.monotonic() - started, 4), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
