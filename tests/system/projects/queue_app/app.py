"""A WSGI app with a file-based job queue in the site's data/ (system tests of processes)."""
import os
import pathlib

DATA = pathlib.Path("/srv/pws") / os.environ.get("PWS_SITE", "none") / "data"


def app(environ, start_response):
    path = environ["PATH_INFO"]
    job = path.rsplit("/", 1)[-1]
    if path.startswith("/enqueue/") and job.isalnum():
        (DATA / "queue").mkdir(exist_ok=True)
        (DATA / "queue" / job).write_text("job")
        body = "queued"
    elif path.startswith("/done/") and job.isalnum():
        result = DATA / "done" / job
        body = result.read_text() if result.exists() else "pending"
    else:
        body = "queue app"
    data = body.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
