"""Open connections to a site's unix socket, from the kernel's table (/proc/net/unix)."""
from __future__ import annotations

from pathlib import Path

CONNECTED = "03"  # SS_CONNECTED; the listening socket itself is 01 (SS_UNCONNECTED)


def open_connections(socket_path: Path, table: Path = Path("/proc/net/unix")) -> int:
    """How many connections gunicorn has accepted on socket_path and not closed: an accepted
    unix socket carries its listener's path. nginx closes its upstream connection after each
    plain request, so on an idle site these are websockets (or other long-lived requests)."""
    wanted = str(socket_path)
    count = 0
    try:
        lines = table.read_text().splitlines()[1:]
    except OSError:
        return 0
    for line in lines:
        # Num RefCount Protocol Flags Type St Inode [Path]
        fields = line.split(None, 7)
        if len(fields) == 8 and fields[7] == wanted and fields[5] == CONNECTED:
            count += 1
    return count
