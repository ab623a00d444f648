"""Consumes the file queue of app.py: each job in data/queue gets its result in data/done."""
import os
import pathlib
import sys
import time

name = sys.argv[1] if len(sys.argv) > 1 else "worker"
data = pathlib.Path("/srv/pws") / os.environ["PWS_SITE"] / "data"
try:
    pathlib.Path("written-by-worker").write_text("x")
    app_dir = "app dir writable"
except OSError:
    app_dir = "app dir read-only"
info = (f"pid={os.getpid()} uid={os.getuid()} release={os.environ.get('PWS_RELEASE')} "
        f"instance={os.environ.get('PWS_INSTANCE')} {app_dir}")
(data / f"{name}-{os.environ.get('PWS_INSTANCE', '')}.info").write_text(info)
print(f"{name} started: {info}", flush=True)
(data / "queue").mkdir(exist_ok=True)
(data / "done").mkdir(exist_ok=True)
while True:
    for job in sorted((data / "queue").iterdir()):
        try:
            job.rename(data / "done" / job.name)
        except FileNotFoundError:
            continue  # another worker took it
        (data / "done" / job.name).write_text(f"done by {name} pid {os.getpid()}")
        print(f"{name} processed {job.name}", flush=True)
    time.sleep(0.2)
