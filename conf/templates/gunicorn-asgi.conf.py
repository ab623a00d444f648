

# ASGI (formulae/asgi.py): uvicorn's worker. A worker retired by a reload or deploy stops
# accepting, and uvicorn then closes every connection that has no request in progress; one
# accepted an instant before, whose request is not read yet, would be closed unanswered (and
# nginx does not retry a POST). So the retiring worker stops accepting first and reads for a
# moment before uvicorn's own shutdown: every request it accepted is answered.
def _read_before_closing():
    import asyncio as _asyncio
    from uvicorn.server import Server as _Server

    shutdown = _Server.shutdown

    async def stop_accepting_then_shutdown(self, sockets=None):
        for server in self.servers:
            server.close()
        await _asyncio.sleep(0.25)
        await shutdown(self, sockets=sockets)

    _Server.shutdown = stop_accepting_then_shutdown


_read_before_closing()
