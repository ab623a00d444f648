"""A site's processes and timers (docs/architecture.md, "Processes and timers"): their grammar
in site.toml, the project's Procfile, and the names of their systemd units.

    [processes]  worker = {command = "celery -A shop worker", count = 2}
    [timers]     nightly = {on = "03:00", command = "python manage.py clearsessions"}

Unit files hold only validated names: the command itself is read, as the site user, by
`pws.launch` from site.toml (or the live release's record of its Procfile)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from . import safefs, validate
from .errors import InvalidInput

PROCESS_NAME = re.compile(r"[a-z][a-z0-9_]{0,23}", re.ASCII)
# What OnCalendar= may hold here: systemd's calendar words, no specifier (%), no line break.
CALENDAR = re.compile(r"[A-Za-z0-9 :*,./~+-]{1,100}", re.ASCII)
MAX_PROCESSES, MAX_COUNT, MAX_TIMERS = 10, 8, 20
PROCFILE = "Procfile"
MAX_PROCFILE = 64 * 1024


def name(value: object, what: str) -> str:
    if not isinstance(value, str) or not PROCESS_NAME.fullmatch(value):
        raise InvalidInput(f"The {what} name {str(value)[:40]!r} is not valid.",
                           "use 1-24 lowercase letters, digits and underscores, starting with a "
                           "letter (e.g. worker).")
    return value


def _keys(entry: dict, allowed: set[str], where: str) -> None:
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise InvalidInput(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}.",
                           f"use only: {', '.join(sorted(allowed))}.")


def count(value: object, where: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_COUNT:
        raise InvalidInput(f"{where}: count {value!r} is not a whole number from 0 to {MAX_COUNT}.",
                           f"scale between 0 and {MAX_COUNT}.")
    return value


def check_processes(value: dict) -> dict[str, dict]:
    if len(value) > MAX_PROCESSES:
        raise InvalidInput(f"processes: {len(value)} are too many.", f"keep at most {MAX_PROCESSES}.")
    checked = {}
    for key, entry in value.items():
        where = f"processes.{name(key, 'process')}"
        _keys(entry, {"command", "count"}, where)
        if not isinstance(entry.get("command"), str):
            raise InvalidInput(f"{where}: command is missing.", f'write {where} = {{command = "..."}}.')
        validate.command(entry["command"], f"{where}.command")
        checked[key] = {"command": entry["command"],
                        "count": count(entry.get("count", 1), where)}
    return checked


def calendar(spec: object, where: str = "the timer") -> str:
    """A systemd calendar spec (OnCalendar=): our grammar, then systemd-analyze's verdict."""
    if not isinstance(spec, str) or not CALENDAR.fullmatch(spec):
        raise InvalidInput(f"{where}: {str(spec)[:60]!r} is not a calendar spec pws accepts.",
                           "use systemd's calendar syntax, e.g. '03:00', 'hourly', 'Mon *-*-* 04:00' "
                           "(see systemd.time(7)).")
    analyze = shutil.which("systemd-analyze")
    if analyze:
        proc = subprocess.run([analyze, "calendar", spec], capture_output=True, text=True, timeout=30)
        if proc.returncode != 0:
            raise InvalidInput(f"{where}: {spec!r} is not a valid calendar spec.",
                               "use systemd's calendar syntax, e.g. '03:00', 'hourly', "
                               "'Mon *-*-* 04:00' (check it with `systemd-analyze calendar`).")
    return spec


def check_timers(value: dict) -> dict[str, dict]:
    if len(value) > MAX_TIMERS:
        raise InvalidInput(f"timers: {len(value)} are too many.", f"keep at most {MAX_TIMERS}.")
    checked = {}
    for key, entry in value.items():
        where = f"timers.{name(key, 'timer')}"
        _keys(entry, {"on", "command"}, where)
        if not isinstance(entry.get("command"), str) or "on" not in entry:
            raise InvalidInput(f"{where}: needs both on and command.",
                               f'write {where} = {{on = "03:00", command = "..."}}.')
        validate.command(entry["command"], f"{where}.command")
        if not isinstance(entry["on"], str) or not CALENDAR.fullmatch(entry["on"]):
            calendar(entry["on"], where)  # refused with its message
        checked[key] = {"on": entry["on"], "command": entry["command"]}
    return checked


# ---------------------------------------------------------------- the project's Procfile
def read_procfile(app_dir: Path) -> tuple[dict[str, dict], list[str], list[str]]:
    """The Procfile of a release's code (read as text, never run by root): its processes
    (count 1 each), its release command, and notes for what pws does not take (web:)."""
    data = safefs.read_file(app_dir / PROCFILE, limit=MAX_PROCFILE + 1)
    if data is None:
        return {}, [], []
    if len(data) > MAX_PROCFILE:
        raise InvalidInput(f"The project's Procfile is larger than {MAX_PROCFILE} bytes.",
                           "keep it to process lines (name: command).")
    procs, release, notes = {}, [], []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, command = line.partition(":")
        where = f"Procfile line {number}"
        if not sep:
            raise InvalidInput(f"{where} is not `name: command`.", "fix the project's Procfile.")
        key, command = key.strip(), command.strip()
        if key == "web":
            notes.append("Procfile web: ignored (pws serves the app itself with gunicorn).")
            continue
        validate.command(command, where)
        if key == "release":
            release.append(command)
            continue
        procs[name(key, f"{where}: process")] = {"command": command, "count": 1}
    check_processes(procs)
    return procs, release, notes


def effective(site, procfile: dict[str, dict]) -> dict[str, dict]:
    """The processes a site runs: its Procfile's, with site.toml's winning on the same name."""
    return {**procfile, **site.processes}


# ---------------------------------------------------------------- unit names
def unit_prefix(site: str, kind: str, item: str) -> str:
    """pws-proc-SITE.NAME (template, instances @1..@N) or pws-timer-SITE.NAME: neither a site
    nor a process name holds a dot, so the name parses back one way only."""
    return f"pws-{kind}-{site}.{item}"


def parse_prefix(prefix: str) -> tuple[str, str, str] | None:
    """(site, kind, name) of a unit prefix pws made, else None."""
    match = re.fullmatch(r"pws-(proc|timer)-([a-z][a-z0-9-]*)\.([a-z][a-z0-9_]*)", prefix)
    if not match:
        return None
    kind, site, item = match.groups()
    validate.site_name(site)
    return site, kind, name(item, kind)
