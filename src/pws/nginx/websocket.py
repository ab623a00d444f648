"""What a vhost adds for an ASGI site (docs/architecture.md, "ASGI"): websockets proxied, and
the read timeout a long-lived connection needs.

nginx passes `Upgrade` on only when told to, and `Connection: upgrade` must reach the app for
a websocket handshake while every other request sends `Connection: ""` (so upstream
connections can be kept alive). A `map $http_upgrade` would need the http context (a conf.d
file); the same choice made with `set` in the site's own server block keeps everything in
the vhost pws already writes, validates and restores."""
from __future__ import annotations

from ..formulae import asgi
from ..site import Site

# uvicorn pings each websocket every 20 s; a connection silent for an hour is closed by nginx.
WEBSOCKET_READ_TIMEOUT = 3600

SERVER = """
    # Websockets (ASGI): Connection: upgrade goes to the app only with an Upgrade request.
    set $$pws_connection "";
    if ($$http_upgrade != "") {
        set $$pws_connection "upgrade";
    }
"""
LOCATION = """
        proxy_set_header Upgrade $$http_upgrade;
        proxy_set_header Connection $$pws_connection;"""


# No `keepalive` to the upstream, measured both ways (`make bench` worker_classes): it doubles
# an ASGI site's throughput through nginx, but a worker retired by a reload or deploy closes
# its idle kept-alive connections while nginx may be sending a request down one; nginx does
# not retry a POST there, so requests failed (5 of 33,000 in test_asgi's reload + deploy under
# load; still 4 of 10,000 with the retiring worker leaving its idle connections to nginx).
# Dropping no request comes first. (gunicorn's sync worker closes every connection, so
# for WSGI sites keepalive changes nothing.)
UPSTREAM_KEEPALIVE = ""


def vhost_values(site: Site) -> dict[str, object]:
    """The template's websocket_server, connection_headers, read_timeout and
    upstream_keepalive for SITE."""
    if not asgi.is_asgi(site):
        return dict(websocket_server="", connection_headers='\n        proxy_set_header Connection "";',
                    read_timeout=site.timeout + 5, upstream_keepalive="")
    return dict(websocket_server=SERVER.replace("$$", "$"),
                connection_headers=LOCATION.replace("$$", "$"),
                read_timeout=max(site.timeout + 5, WEBSOCKET_READ_TIMEOUT),
                upstream_keepalive=UPSTREAM_KEEPALIVE)
