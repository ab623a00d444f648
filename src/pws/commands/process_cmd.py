"""pws process NAME add PROC -- CMD | scale PROC=N ... | remove PROC | list, and
pws timer NAME add TIMER SPEC -- CMD | remove TIMER | list: a site's long-running processes and
scheduled commands (processes.py, services/process_units.py), stored in its site.toml."""
from __future__ import annotations

import argparse
import shlex
import subprocess
from pathlib import Path

from .. import processes, site as sitemod, validate
from ..environment import Env
from ..errors import InvalidInput, PwsError
from ..fsutil import write_atomic
from ..locks import site_lock
from ..releases import Releases
from ..services import process_units
from ..site import Site
from ..ui import printable


def add_process_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", default="list", choices=("add", "scale", "remove", "list"))
    parser.add_argument("rest", nargs=argparse.REMAINDER, metavar="ARGS",
                        help="add PROC -- CMD [ARG...] | scale PROC=N ... | remove PROC")


def add_timer_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", default="list", choices=("add", "remove", "list", "run"))
    parser.add_argument("rest", nargs=argparse.REMAINDER, metavar="ARGS",
                        help="add TIMER SPEC -- CMD [ARG...] (SPEC: systemd calendar syntax, "
                             "e.g. '03:00') | remove TIMER | run TIMER (now)")


def sync(env: Env, site: Site, *, restart: bool) -> list[str]:
    """The site's process and timer units as its site.toml and live release's Procfile say;
    a no-op for a site without any under sysvinit (there are none to run)."""
    live = Releases(env.paths, site.name).current()
    procfile = live.meta.get("procfile", {}) if live else {}
    if env.paths.root != Path("/"):  # a test tree: no service manager of its own
        return []
    return process_units.manager(env.paths).sync(site, procfile, restart=restart)


def _split(rest: list[str], usage: str) -> tuple[list[str], str]:
    """(the words before --, the command after it as one line)."""
    if "--" not in rest:
        raise InvalidInput("No command given.", f"put it after --: {usage}.")
    at = rest.index("--")
    command = rest[at + 1:]
    if not command:
        raise InvalidInput("No command given after --.", f"e.g. {usage}.")
    return rest[:at], shlex.join(command)


def run_process(args: argparse.Namespace, env: Env) -> int:
    env.require_root("pws process")
    site = sitemod.load(env.paths, args.name)
    if args.action == "list":
        return _list(env, site)
    rest = args.rest
    if args.action == "add":
        usage = f"pws process {site.name} add worker -- celery -A app worker"
        words, line = _split(rest, usage)
        if len(words) != 1:
            raise InvalidInput("add takes one process name before --.", f"e.g. {usage}.")
        item = processes.name(words[0], "process")
        validate.command(line, f"process {item}")
        change = lambda s: s.processes.__setitem__(item, {"command": line, "count": 1})  # noqa: E731
    elif args.action == "scale":
        if not rest:
            raise InvalidInput("scale needs PROC=N.", f"e.g. pws process {site.name} scale worker=2.")
        counts = dict(_count(word) for word in rest)
        change = lambda s: _scale(s, counts)  # noqa: E731
    else:
        item = _one(rest, "remove", f"pws process {site.name} remove worker")
        change = lambda s: _remove(s.processes, item, "process", s.name)  # noqa: E731
    _change(env, site.name, change)
    return 0


def run_timer(args: argparse.Namespace, env: Env) -> int:
    env.require_root("pws timer")
    site = sitemod.load(env.paths, args.name)
    if args.action == "list":
        return _list(env, site, timers=True)
    if args.action == "run":
        return _run_timer(env, site, _one(args.rest, "run", f"pws timer {site.name} run nightly"))
    if args.action == "add":
        usage = f"pws timer {site.name} add nightly '03:00' -- python manage.py clearsessions"
        words, line = _split(args.rest, usage)
        if len(words) != 2:
            raise InvalidInput("add takes a timer name and a calendar spec before --.",
                               f"e.g. {usage}.")
        item = processes.name(words[0], "timer")
        spec = processes.calendar(words[1], f"timer {item}")
        validate.command(line, f"timer {item}")
        change = lambda s: s.timers.__setitem__(item, {"on": spec, "command": line})  # noqa: E731
    else:
        item = _one(args.rest, "remove", f"pws timer {site.name} remove nightly")
        change = lambda s: _remove(s.timers, item, "timer", s.name)  # noqa: E731
    _change(env, site.name, change)
    return 0


def _run_timer(env: Env, site: Site, item: str) -> int:
    """Run a timer's command now (and cron's way of running it without systemd)."""
    if item not in site.timers:
        raise InvalidInput(f"Site '{site.name}' has no timer '{printable(item)[:40]}'.",
                           f"see `pws timer {site.name} list`.")
    units = process_units.manager(env.paths)
    if isinstance(units, process_units.ProcessUnits):
        service = f"{processes.unit_prefix(site.name, 'timer', item)}.service"
        return subprocess.run(["systemctl", "start", service]).returncode
    return units.run_timer(site, item)


def _count(word: str) -> tuple[str, int]:
    item, sep, number = word.partition("=")
    if not sep or not number.isdigit():
        raise InvalidInput(f"{word!r} is not PROC=N.", "e.g. worker=2.")
    return processes.name(item, "process"), processes.count(int(number), f"process {item}")


def _scale(site: Site, counts: dict[str, int]) -> None:
    for item, number in counts.items():
        if item not in site.processes:
            raise InvalidInput(f"Site '{site.name}' has no process '{item}' in its site.toml.",
                               f"add it first: pws process {site.name} add {item} -- CMD.")
        site.processes[item]["count"] = number


def _one(rest: list[str], action: str, usage: str) -> str:
    if len(rest) != 1:
        raise InvalidInput(f"{action} takes one name.", f"e.g. {usage}.")
    return rest[0]


def _remove(table: dict, item: str, kind: str, name: str) -> None:
    if item not in table:
        raise InvalidInput(f"Site '{name}' has no {kind} '{printable(item)[:40]}'.",
                           f"see `pws {kind} {name} list`.")
    del table[item]


def _change(env: Env, name: str, change) -> None:
    """Change the site file and its units together: on failure both go back as they were."""
    with site_lock(env.paths, name):
        site = sitemod.load(env.paths, name)
        before = env.paths.site_file(name).read_text()
        change(site)
        site.check()
        sitemod.save(env.paths, site)
        try:
            started = sync(env, site, restart=False)
        except PwsError:
            write_atomic(env.paths.site_file(name), before)
            sync(env, sitemod.load(env.paths, name), restart=False)
            raise
    env.ui.say(f"{name}: {', '.join(started) or 'no processes or timers'}")


def _list(env: Env, site: Site, timers: bool = False) -> int:
    live = Releases(env.paths, site.name).current()
    procfile = live.meta.get("procfile", {}) if live else {}
    states = dict(process_units.manager(env.paths).states(site.name))
    if timers:
        for item, entry in sorted(site.timers.items()):
            unit = f"{processes.unit_prefix(site.name, 'timer', item)}.timer"
            print(f"{item:16} {entry['on']:20} {states.get(unit, '-'):22} {printable(entry['command'])}")
        if not site.timers:
            env.ui.say(f"No timers. Add one with: pws timer {site.name} add NAME SPEC -- CMD")
        return 0
    procs = processes.effective(site, procfile)
    for item, entry in sorted(procs.items()):
        origin = "site.toml" if item in site.processes else "Procfile"
        prefix = processes.unit_prefix(site.name, "proc", item)
        running = [states.get(f"{prefix}@{i}.service", "-") for i in range(1, entry["count"] + 1)]
        print(f"{item:16} x{entry['count']} ({origin}) {', '.join(running) or 'scaled to 0'}: "
              f"{printable(entry['command'])}")
    if not procs:
        env.ui.say(f"No processes. Add one with: pws process {site.name} add NAME -- CMD")
    return 0
