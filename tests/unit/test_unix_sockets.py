"""Counting the connections accepted on a unix socket, from the kernel's own table."""
from __future__ import annotations

import socket

from pws.unix_sockets import open_connections


def test_accepted_connections_are_counted_and_closed_ones_are_not(tmp_path):
    path = tmp_path / "site.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen()
    assert open_connections(path) == 0
    clients = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
    for client in clients:
        client.connect(str(path))
    accepted = [listener.accept()[0] for _ in clients]
    assert open_connections(path) == 2
    accepted[0].close()
    clients[0].close()
    assert open_connections(path) == 1
    assert open_connections(tmp_path / "other.sock") == 0
    for s in (accepted[1], clients[1], listener):
        s.close()


def test_an_unreadable_table_counts_nothing(tmp_path):
    assert open_connections(tmp_path / "x.sock", table=tmp_path / "absent") == 0
