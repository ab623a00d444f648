"""Apps that import fine (pws's import check passes) but die when gunicorn builds them."""
import os


def raises():
    raise RuntimeError("SMTP_HOST is not configured: refusing to start")


def writes_code_dir():
    # Keeps a cache beside its code: the release's app/ is read-only.
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cache.db"), "w") as f:
        f.write("")

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"never served"]
    return app
