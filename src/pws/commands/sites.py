"""pws list, pws status NAME, pws logs NAME."""
from __future__ import annotations

import argparse
import subprocess

from .. import caller, formulae, processes, site as sitemod
from ..environment import Env
from ..errors import PwsError
from ..releases import Releases
from ..formulae import asgi
from ..services import process_units
from ..tls.manager import TlsSites
from ..transaction import Transaction
from ..ui import printable


def run_list(args: argparse.Namespace, env: Env) -> int:
    sites, broken = sitemod.load_valid(env.paths)
    if caller.user() is not None:  # an ordinary user, through pwsd: their sites only
        sites, broken = [s for s in sites if caller.sees(s.owner)], {}
    if not sites and not broken:
        env.ui.say("No sites yet. Make one with: mksite wsgi NAME --from PATH")
        return 0
    rows = [("NAME", "FORMULA", "STATE", "DOMAINS")]
    states = env.services.states([site.name for site in sites])
    for site in sites:
        state = states.get(site.name, "unknown")
        if not env.web.is_enabled(site.name):
            state += ", vhost disabled"
        rows.append((site.name, site.formula, state, " ".join(site.domains)))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]  # a long broken reason goes last
    rows += [(name, "?", "broken: " + " ".join(problem.split()), "")
             for name, problem in broken.items()]
    rows[1:] = sorted(rows[1:])
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3])
    return 0


def run_status(args: argparse.Namespace, env: Env) -> int:
    site = sitemod.load(env.paths, args.name)
    status = env.services.status(site.name)
    memory = f"{status.memory_bytes / 2**20:.1f} MiB" if status.memory_bytes else "-"
    print(f"site:      {site.name} ({site.formula}, app {site.app})")
    print(f"domains:   {' '.join(site.domains)}")
    if site.owner:
        limits = ", ".join(f"{k}={v}" for k, v in site.limits.items())
        print(f"owner:     {site.owner}" + (f" (limits: {limits})" if limits else ""))
    live = Releases(env.paths, site.name).current()
    if live is not None:
        print(f"release:   {live.id}, {live.meta.get('created', '?')} by {live.meta.get('by', '?')}"
              f" from {printable(live.meta.get('source', '?'))}")
    print(f"state:     {status.state}; socket {'listening' if status.listening else 'not listening'}")
    print(f"pid:       {status.pid or '-'}")
    print(f"memory:    {memory}")
    if status.restarts is not None:
        print(f"restarts:  {status.restarts}")
    print(f"server:    {asgi.server_description(site)}")
    print(f"nginx:     {'enabled' if env.web.is_enabled(site.name) else 'disabled'} "
          f"({env.paths.vhost(site.name)})")
    for line in TlsSites(env).describe(site) + _formula_lines(env, site):
        print(line)
    for unit, state in process_units.manager(env.paths).states(site.name):
        print(f"process:   {unit} {state}")
    if status.last_errors:
        print("last errors:")
        for line in status.last_errors:
            print(f"  {printable(line)}")
    return 0


def _formula_lines(env: Env, site) -> list[str]:
    """What the formula chose (Django's settings module, Flask's instance folder)."""
    try:
        formula = formulae.load(site.formula, env.paths)
        return formula.status_lines(formulae.Context(site, env.paths, env.ui, Transaction()))
    except PwsError as exc:
        return [f"formula:   {exc.problem}"]


def run_logs(args: argparse.Namespace, env: Env) -> int:
    site = sitemod.load(env.paths, args.name)
    if getattr(args, "process", None):
        item = processes.name(args.process, "process")
        return subprocess.run(process_units.manager(env.paths).log_command(
            site.name, item, args.lines, args.follow)).returncode
    logs = [env.paths.nginx_log(site.name, "error"), env.paths.nginx_log(site.name, "access")]
    if args.follow:
        journal = subprocess.Popen(env.services.logs(site.name, args.lines, True))
        tail = subprocess.Popen(["tail", "-n", "0", "-F", *map(str, logs)])
        try:
            journal.wait()
        except KeyboardInterrupt:
            pass
        finally:
            journal.terminate()
            tail.terminate()
        return 0
    print(f"== app ({site.name}) ==", flush=True)
    subprocess.run(env.services.logs(site.name, args.lines, False))
    for log in logs:
        print(f"== nginx {log} ==", flush=True)
        if log.exists():
            subprocess.run(["tail", "-n", str(args.lines), str(log)])
    return 0
