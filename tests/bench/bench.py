#!/usr/bin/env python3
"""`make bench`: PWS measured against its limits, side by side in one booted Debian 12.

Every figure is taken at least twice and the median printed; ratios compare runs made
back to back on the same machine. Raw results go to /var/cache/pws/bench/results.json.
"""
from __future__ import annotations

import json
import os
import re
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "system"))
import container  # noqa: E402
from bench_asgi import asgi, websockets, worker_classes  # noqa: E402,F401 (parts, by name)

RESULTS = Path("/var/cache/pws/bench/results.json")
RUNS = 2
WRK = "wrk -t2 -c16 -d5s --latency"

HELLO = '''
import os

STATIC = os.path.join(os.path.dirname(__file__), "static", "ten.bin")


def app(environ, start_response):
    if environ["PATH_INFO"] == "/app-static/ten.bin":
        with open(STATIC, "rb") as f:
            data = f.read()
        ctype = "application/octet-stream"
    else:
        data, ctype = b"Hello, world!", "text/plain"
    start_response("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(data)))])
    return [data]
'''
TINY = "def app(e, s):\n    s('200 OK', [('Content-Length', '2')])\n    return [b'ok']\n"
BARE_NGINX = """server {
    listen 127.0.0.1:8080;
    location /static/ { alias /srv/pws/hello/current/static/copies/static/; }
}
"""

# The same certificate and TLS settings as the pws vhost, nothing else: a bare HTTPS server
# block proxying to the same socket.
BARE_TLS = """server {
    listen 127.0.0.1:8443 ssl http2;
    server_name hello.example.org;
    ssl_certificate /var/lib/pws/tls/certs/hello/fullchain.pem;
    ssl_certificate_key /var/lib/pws/tls/certs/hello/privkey.pem;
    include /etc/nginx/snippets/pws-tls.conf;
    location / { proxy_pass http://unix:/run/pws/hello.sock; proxy_http_version 1.1;
                 proxy_set_header Connection ""; proxy_set_header Host $host; }
}
"""


class Bench:
    def __init__(self, ct: container.Container):
        self.ct = ct
        self.raw: dict[str, list] = {}

    def sh(self, cmd: str, timeout: float = 900) -> str:
        return self.ct.run(cmd, timeout=timeout).stdout

    def timed(self, cmd: str, timeout: float = 900) -> float:
        start = time.monotonic()
        self.sh(cmd, timeout)
        return time.monotonic() - start

    def keep(self, key: str, values: list) -> float:
        self.raw[key] = values
        return statistics.median(values)

    # --- HTTP load with wrk
    def wrk(self, url: str, host: str, keepalive: bool) -> dict:
        close = "" if keepalive else " -H 'Connection: close'"
        out = self.sh(f"{WRK} -H 'Host: {host}'{close} {url}")
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", out)
        return {"rps": rps, "p50_ms": _latency(out, "50%"), "p99_ms": _latency(out, "99%"),
                "errors": errors.group(0) if errors else ""}

    def load(self, key: str, url: str, host: str, keepalive: bool) -> dict:
        runs = [self.wrk(url, host, keepalive) for _ in range(RUNS)]
        self.raw[key] = runs
        return {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p99_ms")}

    def interleaved(self, key: str, url_a: str, url_b: str, host: str, keepalive: bool,
                    runs: int = 3) -> tuple[dict, dict]:
        """A and B taken in turns (ABAB…), so drift on a shared machine hits both alike."""
        pairs = [(self.wrk(url_a, host, keepalive), self.wrk(url_b, host, keepalive))
                 for _ in range(runs)]
        self.raw[key] = pairs
        return tuple({k: statistics.median(p[i][k] for p in pairs) for k in ("rps", "p50_ms", "p99_ms")}
                     for i in (0, 1))


def _latency(out: str, pct: str) -> float:
    match = re.search(rf"^\s+{re.escape(pct)}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def direct_gunicorn(b: Bench, site: str, port: int, app: str, chdir: str) -> None:
    """The same app and worker count, gunicorn alone on TCP, as the site user."""
    b.sh(f"systemd-run --unit bench-direct-{site} --uid pws-{site} --gid pws-{site} "
         f"-p WorkingDirectory={chdir} -p EnvironmentFile=-/etc/pws/secrets/{site}/env "
         f"/srv/pws/{site}/venv/bin/gunicorn --no-control-socket -w 2 -b 127.0.0.1:{port} "
         f"--pythonpath {chdir} '{app}'")
    b.sh(f"for i in $(seq 100); do curl -sf -o /dev/null -H 'Host: {site}.example.org' "
         f"http://127.0.0.1:{port}/ && exit 0; curl -s -o /dev/null http://127.0.0.1:{port}/ "
         f"-w '%{{http_code}}' | grep -q '^[1-4]' && exit 0; sleep 0.1; done; exit 1")


def throughput(b: Bench) -> list[tuple]:
    rows = []
    apps = [("hello", "/", "hello:app", "/srv/pws/hello/app"),
            ("django", "/admin/login/", "django.core.wsgi:get_wsgi_application()", "/srv/pws/dj/app")]
    for label, path, app, chdir in apps:
        site = "hello" if label == "hello" else "dj"
        direct_gunicorn(b, site, 8001 if label == "hello" else 8002, app, chdir)
        port = 8001 if label == "hello" else 8002
        for keepalive in (True, False):
            ka = "keep-alive" if keepalive else "no keep-alive"
            pws = b.load(f"{label} pws {ka}", f"http://127.0.0.1{path}", f"{site}.example.org", keepalive)
            direct = b.load(f"{label} direct {ka}", f"http://127.0.0.1:{port}{path}",
                            f"{site}.example.org", keepalive)
            rows.append((f"{label} via nginx (pws) vs gunicorn direct, {ka}",
                         f"{pws['rps']:.0f} vs {direct['rps']:.0f} req/s",
                         f"p50 {pws['p50_ms']:.2f}/{direct['p50_ms']:.2f} ms, "
                         f"p99 {pws['p99_ms']:.2f}/{direct['p99_ms']:.2f} ms",
                         pws["rps"] / direct["rps"]))
    return rows


def static_files(b: Bench) -> list[tuple]:
    b.ct.write_file("/etc/nginx/conf.d/bench.conf", BARE_NGINX)
    b.sh("systemctl reload nginx && sleep 1")
    via_pws = b.load("static via pws", "http://127.0.0.1/static/ten.bin", "hello.example.org", True)
    via_app = b.load("static via app", "http://127.0.0.1/app-static/ten.bin", "hello.example.org", True)
    bare = b.load("static bare nginx", "http://127.0.0.1:8080/static/ten.bin", "x", True)
    b.sh("rm /etc/nginx/conf.d/bench.conf && systemctl reload nginx")
    return [("10 KB static: pws vhost vs bare nginx location", f"{via_pws['rps']:.0f} vs "
             f"{bare['rps']:.0f} req/s", "", via_pws["rps"] / bare["rps"]),
            ("10 KB static: pws vhost vs the same file from the app",
             f"{via_pws['rps']:.0f} vs {via_app['rps']:.0f} req/s", "", via_pws["rps"] / via_app["rps"])]


def tls(b: Bench) -> list[tuple]:
    """HTTPS keep-alive via the pws vhost vs a bare TLS server block with the same certificate,
    and full handshakes (a new connection, no session resumption, per request)."""
    b.sh("grep -q hello.example.org /etc/hosts || echo '127.0.0.1 hello.example.org' >> /etc/hosts")
    b.sh("pws tls hello local-ca")
    b.ct.write_file("/etc/nginx/conf.d/bench-tls.conf", BARE_TLS)
    b.sh("systemctl reload nginx && sleep 1")
    rows = []
    for keepalive in (True, False):
        ka = "keep-alive" if keepalive else "full handshake per request"
        pws, bare = b.interleaved(f"tls {ka}", "https://hello.example.org/",
                                  "https://hello.example.org:8443/", "hello.example.org", keepalive)
        rows.append((f"hello WSGI over HTTPS, pws vhost vs bare TLS server block, {ka}",
                     f"{pws['rps']:.0f} vs {bare['rps']:.0f} req/s",
                     f"p99 {pws['p99_ms']:.2f}/{bare['p99_ms']:.2f} ms", pws["rps"] / bare["rps"]))
    b.sh("rm /etc/nginx/conf.d/bench-tls.conf && pws tls hello off && systemctl reload nginx")
    return rows


def mksite_times(b: Bench) -> list[tuple]:
    rows = []
    for formula, extra in (("wsgi", "--app tiny:app --from /root/tiny"), ("django", "")):
        cold, warm = [], []
        for i in range(RUNS):
            b.sh("rm -rf /var/cache/pws/pip")
            cold.append(b.timed(f"mksite {formula} c{formula}{i} {extra} --yes"))
            warm.append(b.timed(f"mksite {formula} w{formula}{i} {extra} --yes"))
        for i in range(RUNS):
            b.sh(f"rmsite c{formula}{i} --yes --delete-source --drop-database; "
                 f"rmsite w{formula}{i} --yes --delete-source --drop-database")
        c, w = b.keep(f"mksite {formula} cold", cold), b.keep(f"mksite {formula} warm", warm)
        # Each site has its own pip cache (one site must not feed another its wheels), so the
        # second site starts cold too: the two figures differ only by the machine's noise.
        rows.append((f"mksite {formula}: 1st vs 2nd site (own pip caches)", f"{c:.1f} s vs {w:.1f} s",
                     "", c / w))
    return rows


# --- where mksite and deploy spend their time (issue 16)
STEP_LINE = re.compile(r"… (.+?) (?:done \(([\d.]+)s\)|failed)")
# Step names carry site names, release ids and counts: folded into one label each.
STEP_LABELS = (
    (r"creating the user", "user"), (r"copying ", "copy code"), (r"creating the venv", "venv"),
    (r"installing django==", "django for startproject"), (r"installing \d+ package", "install"),
    (r"compiling", "bytecode"), (r"sealing", "seal"), (r"checking that the app imports", "import check"),
    (r"copying the database", "db copy"), (r"manage\.py (\w+)", None),
    (r"creating the (sqlite|postgresql)", "database"), (r"validating and reloading nginx", "nginx reload"),
    (r"starting gunicorn", "start"), (r"waiting for ", "readiness"), (r"health gate", "gate"),
    (r"switching to release", "switch"), (r"checking .* through nginx", "check via nginx"),
)


def _label(step: str) -> str:
    for pattern, label in STEP_LABELS:
        match = re.match(pattern, step)
        if match:
            return label or f"manage.py {match.group(1)}"
    return step[:24]


def steps_of(out: str) -> dict[str, float]:
    steps: dict[str, float] = {}
    for match in STEP_LINE.finditer(out):
        label = _label(match.group(1))
        steps[label] = steps.get(label, 0.0) + float(match.group(2) or 0)
    return steps


def timed_steps(b: Bench, cmd: str) -> tuple[float, dict[str, float]]:
    start = time.monotonic()
    out = b.sh(cmd)
    total = time.monotonic() - start
    steps = steps_of(out)
    steps["(rest)"] = max(0.0, total - sum(steps.values()))
    return total, steps


def app_import_time(b: Bench, site: str, code: str) -> float:
    """The app's own import, as the site user with its venv (what a deploy cannot avoid)."""
    out = b.sh(f"cd /srv/pws/{site}/current/app && runuser -u pws-{site} -- env $(cat "
               f"/etc/pws/secrets/{site}/env 2>/dev/null | grep -v '^#' | xargs) "
               f"/srv/pws/{site}/current/venv/bin/python -c 'import sys, time; sys.path.insert(0, \"\"); "
               f"t = time.monotonic(); {code}; print(time.monotonic() - t)'")
    return float(out.split()[-1])


def steps(b: Bench) -> list[tuple]:
    """mksite (wsgi, django; the 2nd site of each, warm) and unchanged deploys, step by step;
    the medians of RUNS, each step as pws's own "… step done (N s)" lines report it."""
    runs: dict[str, list] = {}
    commands = {
        "mksite wsgi (warm)": lambda i: f"mksite wsgi tw{i} --app tiny:app --from /root/tiny --yes",
        "mksite django (warm)": lambda i: f"mksite django td{i} --yes",
        "deploy wsgi, unchanged": lambda i: "pws deploy hello --from /root/hello",
        "deploy django, unchanged": lambda i: "pws apply dj",
    }
    b.sh("mksite wsgi tw-first --app tiny:app --from /root/tiny --yes; mksite django td-first --yes")
    for label, cmd in commands.items():
        runs[label] = [timed_steps(b, cmd(i)) for i in range(RUNS + 1)]
    b.sh("for s in tw-first td-first tw0 tw1 tw2 td0 td1 td2; do "
         "rmsite $s --yes --delete-source --drop-database >/dev/null 2>&1; done")
    imports = {
        "deploy wsgi, unchanged": app_import_time(b, "hello", "import hello"),
        "deploy django, unchanged": app_import_time(
            b, "dj", "from django.core.wsgi import get_wsgi_application; get_wsgi_application()"),
    }
    b.raw["steps"] = {k: [{"total": t, "steps": s} for t, s in v] for k, v in runs.items()}
    b.raw["app import s"] = imports
    rows = []
    print("\n  where the time goes (median of the runs, seconds):", flush=True)
    for label, results in runs.items():
        total = statistics.median(t for t, _ in results)
        names = list(dict.fromkeys(n for _, s in results for n in s))
        parts = {n: statistics.median(s.get(n, 0.0) for _, s in results) for n in names}
        breakdown = ", ".join(f"{n} {v:.2f}" for n, v in parts.items() if v >= 0.005)
        print(f"    {label}: {total:.2f} s = {breakdown}", flush=True)
        detail = breakdown
        if label in imports:
            detail = f"app import {imports[label]:.2f} s; " + breakdown
        rows.append((label, f"{total:.2f} s", detail, None))
    return rows


def hang(b: Bench) -> list[tuple]:
    """A whole site stopped with SIGSTOP (master and workers): how long until it serves again,
    with the default settings. A fresh site each run: two hangs of one site within a minute
    count against its StartLimitBurst like a crash loop (the socket's start attempts while it
    restarts included), and the second would end its restarts."""
    took = []
    for i in range(RUNS):
        host = f"hang{i}.example.org"
        b.sh(f"mksite wsgi hang{i} --app tiny:app --from /root/tiny --domain {host} --yes")
        b.sh("sleep 2")
        start = time.monotonic()
        b.ct.run(f"systemctl kill --signal=SIGSTOP pws-site@hang{i}.service", check=False)
        stopped = b.ct.run(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 0.5 -H "
                           f"'Host: {host}' http://127.0.0.1/", check=False).stdout
        assert stopped != "200", "SIGSTOP did not stop the site: the figure would mean nothing"
        while time.monotonic() - start < 90:
            out = b.ct.run(f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 1 -H "
                           f"'Host: {host}' http://127.0.0.1/", check=False).stdout
            if out == "200":
                break
            time.sleep(0.1)
        took.append(time.monotonic() - start)
        b.sh(f"rmsite hang{i} --yes --delete-source >/dev/null")
    t = b.keep("SIGSTOP: serving again after s", took)
    return [("a whole site SIGSTOPped: serving again after", f"{t:.1f} s", "defaults", None)]


def idle_cost(b: Bench, n: int) -> list[tuple]:
    """What watching N idle sites costs: one `pws health --all` pass (CPU of pws and what it
    runs) times the passes per hour, and the CPU of everything else of the idle sites (their
    gunicorns and PID 1, which receives their notifications) over 60 s, per hour."""
    code = ("import resource, subprocess; subprocess.run(['pws', 'health', '--all', '--quiet'], "
            "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
            "r = resource.getrusage(resource.RUSAGE_CHILDREN); print(r.ru_utime + r.ru_stime)")
    health = statistics.median(float(b.sh(f"python3 -c \"{code}\"").strip()) for _ in range(3))
    interval = b.sh("systemctl show -p TimersMonotonic pws-health.timer; "
                    "grep -h '^OnUnitActiveSec=' /lib/systemd/system/pws-health.timer").strip()
    seconds = float(re.search(r"OnUnitActiveSec=(\d+)", interval).group(1))
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = ("pids=\"1 $(pgrep -f '^gunicorn: ' | tr '\\n' ' ') $(pgrep -u root -x systemd)\"; "
           "for p in $pids; do awk '{print $14 + $15}' /proc/$p/stat 2>/dev/null; done "
           "| awk '{s += $1} END {print s + 0}'")
    before = float(b.sh(cpu))
    time.sleep(60)
    after = float(b.sh(cpu))
    idle = (after - before) / ticks * 60  # CPU seconds per hour
    per_hour = health * 3600 / seconds
    b.raw[f"idle cost {n} sites"] = {"health pass cpu s": health, "interval s": seconds,
                                     "sites + pid1 cpu s per hour": idle}
    return [(f"watching {n} idle sites: health passes (every {seconds:.0f} s) + idle sites",
             f"{per_hour:.0f} + {idle:.0f} CPU s/h",
             f"one pass {health * 1000:.0f} ms CPU", None)]


def releases(b: Bench) -> list[tuple]:
    """pws deploy of an unchanged project (wsgi and Django), pws rollback, and what a deploy
    costs the requests served meanwhile (wrk through nginx, deploys back to back)."""
    wsgi = b.keep("deploy wsgi unchanged", [b.timed("pws deploy hello --from /root/hello")
                                            for _ in range(3)])
    django = b.keep("deploy django unchanged (pws apply)", [b.timed("pws apply dj")
                                                            for _ in range(3)])
    back = b.keep("rollback wsgi", [b.timed("pws rollback hello") for _ in range(3)])
    steady = b.wrk("http://127.0.0.1/", "hello.example.org", keepalive=True)
    b.sh("systemd-run --unit=bench-deploys sh -c 'for i in 1 2 3 4 5 6 7 8; do "
         "pws deploy hello --from /root/hello >/dev/null 2>&1; done'")
    during = b.wrk("http://127.0.0.1/", "hello.example.org", keepalive=True)
    b.sh("while systemctl is-active -q bench-deploys; do sleep 0.2; done")
    b.raw["wrk while deploying"] = [steady, during]
    return [("pws deploy, unchanged wsgi project", f"{wsgi:.2f} s", "", None),
            ("pws deploy, unchanged Django project", f"{django:.2f} s", "pws apply", None),
            ("pws rollback (wsgi) vs an unchanged deploy", f"{back:.2f} s vs {wsgi:.2f} s", "",
             back / wsgi),
            ("hello req/s while deploying vs steady", f"{during['rps']:.0f} vs {steady['rps']:.0f}",
             f"errors: {during['errors'] or 'none'}", during["rps"] / steady["rps"])]


def nginx_reload(b: Bench) -> float:
    code = ("import time; from pws.paths import Paths; from pws.nginx.server import NginxServer; "
            "s = NginxServer(Paths.from_env()); t = time.monotonic(); s.reload(); "
            "print(time.monotonic() - t)")
    return statistics.median(float(b.sh(f"/opt/venvs/pws/bin/python -c '{code}'")) for _ in range(3))


def pws_list(b: Bench) -> float:
    return statistics.median(b.timed("pws list > /dev/null") for _ in range(3))


def scaling(b: Bench) -> list[tuple]:
    rows, reloads, lists, times = [], {}, {}, {}
    for n in range(1, 101):
        times[n] = b.timed(f"mksite wsgi s{n} --app tiny:app --from /root/tiny --workers 1 --yes")
        if n in (1, 10, 100):
            reloads[n], lists[n] = nginx_reload(b), pws_list(b)
            print(f"  {n} sites: nginx reload {reloads[n] * 1000:.0f} ms, pws list "
                  f"{lists[n] * 1000:.0f} ms", flush=True)
    b.raw["scaling"] = {"mksite_s": times, "nginx_reload_s": reloads, "pws_list_s": lists}
    first = statistics.median([times[1], times[2], times[3]])
    last = statistics.median([times[98], times[99], times[100]])
    rows.append(("nginx reload, 1 / 10 / 100 sites",
                 " / ".join(f"{reloads[n] * 1000:.0f}" for n in (1, 10, 100)) + " ms", "",
                 reloads[100] / reloads[1]))
    rows.append(("pws list, 1 / 10 / 100 sites",
                 " / ".join(f"{lists[n] * 1000:.0f}" for n in (1, 10, 100)) + " ms", "",
                 lists[100] / lists[1]))
    rows.append(("mksite: 100th site vs 1st (median of 3 around each)", f"{last:.1f} s vs {first:.1f} s",
                 "", last / first))
    rows += idle_cost(b, 100)
    b.sh("for n in $(seq 1 100); do rmsite s$n --yes --delete-source >/dev/null; done", timeout=1800)
    return rows


def memory_mib(b: Bench, site: str) -> float:
    pids = b.sh(f"systemctl show -p MainPID --value pws-site@{site}.service").strip()
    if pids in ("", "0"):
        return 0.0
    kib = b.sh(f"for p in {pids} $(pgrep -P {pids}); do grep '^Pss:' /proc/$p/smaps_rollup; done "
               "| awk '{s+=$2} END {print s+0}'")
    return float(kib) / 1024


def scale_to_zero(b: Bench, site: str) -> None:
    """The real idle path: idle=1, an access log untouched for 2 minutes, one health pass."""
    b.sh(f"pws config {site} idle=1 >/dev/null; touch -d '-2 min' /var/log/nginx/pws-{site}.access.log; "
         f"pws health {site} --quiet; systemctl is-active pws-site@{site}.service | grep -qx inactive")


def idle_and_cold_start(b: Bench) -> list[tuple]:
    rows = []
    for site, path, host in (("hello", "/", "hello.example.org"), ("dj", "/admin/login/", "dj.example.org")):
        b.sh(f"curl -sf -o /dev/null -H 'Host: {host}' http://127.0.0.1{path}; sleep 2")
        idle = b.keep(f"{site} idle PSS MiB", [memory_mib(b, site) for _ in range(RUNS)])
        zero, cold = [], []
        for _ in range(RUNS):
            scale_to_zero(b, site)
            zero.append(memory_mib(b, site))
            out = b.sh(f"curl -sS -o /dev/null -w '%{{http_code}} %{{time_total}}' -H 'Host: {host}' "
                       f"http://127.0.0.1{path}")
            code, seconds = out.split()
            assert code == "200", out
            cold.append(float(seconds))
        z, c = b.keep(f"{site} scaled-to-zero MiB", zero), b.keep(f"{site} cold start s", cold)
        b.sh(f"pws config {site} idle=0 >/dev/null")
        label = "hello" if site == "hello" else "django"
        rows.append((f"{label}: memory idle vs scaled to zero", f"{idle:.1f} MiB vs {z:.1f} MiB", "", None))
        rows.append((f"{label}: first response after scale to zero", f"{c * 1000:.0f} ms", "", None))
    return rows


def setup(b: Bench) -> None:
    b.ct.write_file("/root/hello/hello.py", HELLO)
    b.ct.write_file("/root/hello/static/ten.bin", os.urandom(10240))
    b.ct.write_file("/root/tiny/tiny.py", TINY)
    b.sh("mksite wsgi hello --app hello:app --from /root/hello --domain hello.example.org "
         "--static /static=static --yes")
    b.sh("mksite django dj --domain dj.example.org --yes")


def describe_machine(b: Bench) -> str:
    cores = b.sh("nproc").strip()
    mem = b.sh("awk '/MemTotal/ {printf \"%.0f\", $2/1048576}' /proc/meminfo").strip()
    debian = b.sh("cat /etc/debian_version").strip()
    return f"{cores} cores, {mem} GiB, Debian {debian} booted with systemd (nspawn container)"


def print_table(rows: list[tuple], machine: str) -> None:
    print(f"\nPWS benchmark — {machine}\n")
    width = max(len(r[0]) for r in rows)
    for name, figure, detail, ratio in rows:
        ratio_text = f"ratio {ratio:.2f}" if ratio is not None else ""
        print(f"  {name.ljust(width)}  {figure:<24} {ratio_text:<12} {detail}")


PARTS = ("throughput", "static_files", "tls", "idle_and_cold_start", "mksite_times", "steps",
         "releases", "hang", "scaling", "asgi", "websockets", "worker_classes")


def _chosen_parts(names: list[str]):
    """All parts, or those named on the command line (`bench.py static_files scaling`)."""
    unknown = set(names) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
    return [globals()[name] for name in PARTS if not names or name in names]


def main() -> int:
    debs = container.find_debs()
    if not debs:
        print("no .deb in dist/: run make deb first", file=sys.stderr)
        return 2
    image = container.ensure_image([*container.system_image_packages(), "wrk"])
    wheels = container.ensure_wheelhouse(container.site_requirements())
    with container.Container(image, wheels) as ct:
        container.install_debs(ct, debs)
        b = Bench(ct)
        machine = describe_machine(b)
        setup(b)
        rows = []
        for part in _chosen_parts(sys.argv[1:]):
            print(f"measuring: {part.__name__}", flush=True)
            rows += part(b)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": machine, "rows": rows, "raw": b.raw}, indent=2))
    print_table(rows, machine)
    print(f"\nraw results: {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
