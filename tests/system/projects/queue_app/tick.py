"""Run by a timer: counts its runs in data/ticks; with an argument, takes that many seconds
and notes any run that started while another was still going (data/overlaps)."""
import os
import pathlib
import sys
import time

data = pathlib.Path("/srv/pws") / os.environ["PWS_SITE"] / "data"
seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 0
running = data / "tick.running"
try:
    fd = os.open(running, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    os.close(fd)
except FileExistsError:
    with open(data / "overlaps", "a") as f:
        f.write("overlap\n")
with open(data / "ticks", "a") as f:
    f.write(f"{time.time()}\n")
time.sleep(seconds)
running.unlink(missing_ok=True)
