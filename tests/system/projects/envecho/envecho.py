"""The app of the `pws env` system tests: GET /env/NAME answers `hex:` and the hex of the exact
bytes of the variable NAME in the app's own environment, or `unset`; anything else
`envecho ok`. It takes 2 s to import, like a real app (so a restart shows in the figures).
Beside a file `needs-MUST_HAVE`, it refuses to import without the variable MUST_HAVE."""
import os
import time

time.sleep(2)
if os.path.exists(os.path.join(os.path.dirname(__file__), "needs-MUST_HAVE")):
    if "MUST_HAVE" not in os.environ:
        raise RuntimeError("MUST_HAVE is not set")


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/env/"):
        value = os.environb.get(path[len("/env/"):].encode())
        body = b"unset" if value is None else b"hex:" + value.hex().encode()
    else:
        body = b"envecho ok"
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
