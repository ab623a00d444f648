#!/usr/bin/env python3
"""`make demo`: install dist/*.deb in a fresh Debian 12 and serve a WSGI hello app.

Prints a transcript of every command run in the container and its output. Exits 0 if
the page is served, 1 if not, 2 if there is nothing to install (run make deb first).
"""

from __future__ import annotations

import shlex
import sys
import time

import container
from container import Container, http

SITE, DOMAIN = "hello", "hello.example.org"
GREETING = "Hello from PWS!"
HELLO_APP = f'''\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"{GREETING}\\n"]
'''


def show(ct: Container, cmd: str):
    """Run CMD in the container, printing it and its output like a terminal session."""
    print(f"\n$ {cmd}", flush=True)
    proc = ct.run(cmd, check=False)
    print(proc.stdout + proc.stderr, end="" if (proc.stdout + proc.stderr).endswith("\n") else "\n")
    if proc.returncode != 0:
        print(f"[exit status {proc.returncode}]")
    return proc


def install(ct: Container, debs) -> None:
    names = " ".join(f"./{d.name}" for d in debs)
    print(f"\n$ cd /root/debs && apt-get install -y {names}", flush=True)
    out = container.install_debs(ct, debs).stdout
    print("\n".join(line for line in out.splitlines() if "Reading database" not in line))


def served(ct: Container, wait: float = 10) -> bool:
    deadline = time.monotonic() + wait
    while True:
        status, body = http(ct, "http://127.0.0.1/", host=DOMAIN)
        if status == 200 and GREETING in body:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


def demo(ct: Container, debs) -> bool:
    install(ct, debs)
    ct.write_file(f"/root/{SITE}/{SITE}.py", HELLO_APP)
    show(ct, f"cat /root/{SITE}/{SITE}.py")
    show(ct, f"mksite wsgi {SITE} --app {SITE}:app --from /root/{SITE} --domain {DOMAIN} --yes")
    show(ct, f"curl -sS -i -H {shlex.quote('Host: ' + DOMAIN)} http://127.0.0.1/")
    show(ct, "pws list")
    show(ct, f"pws status {SITE}")
    return served(ct)


def diagnose(ct: Container) -> None:
    show(ct, f"journalctl --no-pager -n 40 -u pws-site@{SITE}.socket -u pws-site@{SITE}.service")
    show(ct, f"tail -n 20 /var/log/nginx/error.log /var/log/nginx/pws-{SITE}.error.log")


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # keep the transcript in order with the log lines
    debs = container.find_debs()
    if not debs:
        print(f"no .deb in {container.DIST}: run make deb first", file=sys.stderr)
        return 2
    image = container.ensure_image(container.system_image_packages())
    wheelhouse = container.ensure_wheelhouse(container.site_requirements())
    with Container(image, wheelhouse) as ct:
        print(f"# booted Debian 12 container {ct.name} (systemd, no network)")
        ok = demo(ct, debs)
        if not ok:
            diagnose(ct)
    print(f"\n# {'OK: the page is served' if ok else 'FAILED: the page is not served'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
