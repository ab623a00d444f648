

# ASGI (formulae/asgi.py): uvicorn's worker, with nginx keeping connections to it alive
# (nginx/websocket.py). A worker retired by a reload or deploy must never close a connection
# nginx may be sending a request down at that instant (nginx does not retry a POST): so it
# stops accepting, answers what it accepted, and leaves its idle connections to nginx, which
# closes them within its keepalive_timeout (or sends one more request, answered with
# `Connection: close`). uvicorn's own idle timeout (keepalive below) is longer than nginx's.
keepalive = 75


def _drain_before_closing():
    import asyncio as _asyncio
    from uvicorn.protocols.http.h11_impl import H11Protocol as _H11
    from uvicorn.server import Server as _Server

    shutdown = _Server.shutdown

    async def stop_accepting_then_shutdown(self, sockets=None):
        for server in self.servers:
            server.close()
        await _asyncio.sleep(0.25)
        await shutdown(self, sockets=sockets)

    _Server.shutdown = stop_accepting_then_shutdown
    # uvicorn's h11 protocol, the one patched here, even where httptools is installed.
    from uvicorn_worker import UvicornWorker as _Worker
    _Worker.CONFIG_KWARGS = {**_Worker.CONFIG_KWARGS, "http": "h11"}
    handle_events = _H11.handle_events

    def close_after_next_response(self):
        if self.cycle is None or self.cycle.response_complete:
            self.pws_closing = True  # idle: nginx closes it, or gets one more answer
        else:
            self.cycle.keep_alive = False

    def handle_events_closing(self):
        handle_events(self)
        if getattr(self, "pws_closing", False) and self.cycle is not None:
            self.cycle.keep_alive = False

    _H11.shutdown = close_after_next_response
    _H11.handle_events = handle_events_closing


_drain_before_closing()
