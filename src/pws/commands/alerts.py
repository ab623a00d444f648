"""pws alerts: what failed and why. `pws alerts record NAME` is run by pws-alert@NAME.service
(the site unit's OnFailure=) and by the health probe; it keeps the reason and the log tail in
/var/lib/pws/alerts/ and mails root when a mail transport agent is installed."""
from __future__ import annotations

import argparse
import shutil
import subprocess
import time

from .. import processes, validate
from ..errors import InvalidInput
from ..environment import Env
from ..ui import printable
from ..fsutil import write_atomic
from ..services.systemd import units

SENDMAIL = "/usr/sbin/sendmail"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=["list", "record"], default="list")
    parser.add_argument("name", nargs="?", help="site name (with record)")
    parser.add_argument("--reason", default="", help="why (with record; default: systemd's result)")
    parser.add_argument("-n", "--lines", type=int, default=20, help="alerts to list (default 20)")


def run(args: argparse.Namespace, env: Env) -> int:
    if args.action == "record":
        env.require_root("pws alerts record")
        path = record(env, args.name, args.reason)
        env.ui.say(f"alert recorded in {path}")
        return 0
    alerts = sorted(env.paths.alerts_dir.glob("*.txt"))[-args.lines:] if env.paths.alerts_dir.is_dir() else []
    if not alerts:
        env.ui.say("No alerts.")
    for path in alerts:
        print(f"== {path.name} ==\n{printable(path.read_text(errors='replace'))}")
    return 0


def _systemd_reason(name: str) -> str:
    _, service = units(name)
    proc = subprocess.run(["systemctl", "show", service, "--property=Result", "--value"],
                          capture_output=True, text=True)
    return f"systemd result: {proc.stdout.strip() or 'unknown'}"


def _log_tail(name: str) -> str:
    _, service = units(name)
    proc = subprocess.run(["journalctl", "-u", service, "-n", "30", "-o", "cat", "--no-pager", "-q"],
                          capture_output=True, text=True)
    return proc.stdout


def _record_process(env: Env, prefix: str, reason: str) -> str:
    """A process or timer unit of a site failed (OnFailure=pws-alert@PREFIX): a restart loop,
    or a timer's run that failed. The site's web process is another unit and goes on."""
    parsed = processes.parse_prefix(prefix)
    if parsed is None:
        raise InvalidInput(f"{prefix[:80]!r} is neither a site nor a process of one.",
                           "give a site name.")
    site, kind, item = parsed
    pattern = f"{prefix}@*.service" if kind == "proc" else f"{prefix}.service"
    what = "process" if kind == "proc" else "timer"
    reason = reason or (f"{what} {item} keeps exiting (restart loop); the site still serves"
                        if kind == "proc" else f"timer {item}: its run failed")
    if shutil.which("journalctl"):
        log = subprocess.run(["journalctl", "-u", pattern, "-n", "30", "-o", "cat", "--no-pager",
                              "-q"], capture_output=True, text=True).stdout
    else:  # sysvinit: the supervisors' log (services/sysv_processes.py)
        from ..services.sysv_processes import SysvProcesses
        path = SysvProcesses(env.paths).log_file(site)
        log = "\n".join(path.read_text(errors="replace").splitlines()[-30:]) if path.exists() else ""
    text = (f"site: {site}\n{what}: {item}\ntime: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\n"
            f"reason: {reason}\nlast log lines:\n{log}")
    path = env.paths.alerts_dir / f"{time.strftime('%Y%m%dT%H%M%S')}-{site}-{item}.txt"
    env.paths.alerts_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text, 0o640)
    _mail_root(site, reason, text)
    return str(path)


def record(env: Env, name: str, reason: str = "") -> str:
    if "." in (name or ""):
        return _record_process(env, name, reason)
    validate.site_name(name or "")  # it names a file root writes
    reason = reason or _systemd_reason(name)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    why = "\n".join(env.services.status(name).last_errors)
    text = (f"site: {name}\ntime: {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\nreason: {reason}\n"
            f"why:\n{why}\nlast log lines:\n{_log_tail(name)}")
    path = env.paths.alerts_dir / f"{stamp}-{name}.txt"
    env.paths.alerts_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(path, text, 0o640)
    _mail_root(name, reason, text)
    return str(path)


def _mail_root(name: str, reason: str, text: str) -> None:
    if not shutil.which("sendmail", path="/usr/sbin:/usr/lib"):
        return
    message = f"To: root\nSubject: [pws] site {name}: {reason}\n\n{text}"
    subprocess.run([SENDMAIL, "-t", "-oi"], input=message, text=True, capture_output=True, timeout=30)
