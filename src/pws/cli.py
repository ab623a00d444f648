"""Entry points for pws, mksite and rmsite. PwsError is caught here, once."""
from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable

from . import __version__, formulae
from .commands import (alerts, audit_cmd, config, control, deploy_cmd, env_cmd, git_cmd,
                       grant_cmd, health, mksite, nginx_cmd, process_cmd, rebuild_cmd, releases_cmd,
                       rmsite, run_cmd, sites, tls_cmd)
from .environment import Env
from .errors import Interrupted, PwsError
from .paths import Paths

EPILOG = "Sites are defined in /etc/pws/sites/NAME.toml. See pws(8), mksite(8), rmsite(8)."


def _raise_interrupted(signum: int, frame) -> None:
    raise Interrupted(signum)


def _dispatch(parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if os.geteuid() != 0 and not getattr(args, "local", False):
        from . import client  # not root: pwsd acts, within the caller's grant
        return client.forward(parser.prog, argv, args)
    return run_parsed(parser, args, argv)


def run_parsed(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str], *,
               who: str = "root", uid: int = 0, via: str = "cli",
               check: Callable | None = None) -> int:
    """Run a parsed command: the root CLI, and pwsd's child for a user (check: the grant)."""
    # Files pws makes (venvs, units, vhosts) must not depend on the caller's umask.
    os.umask(0o022)
    # A terminal closed or a `kill` mid-run: unwind like Ctrl-C, so mksite undoes its work.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupted)
    code, error = 1, ""
    try:
        env = Env.create(assume_yes=getattr(args, "yes", False), quiet=getattr(args, "quiet", False))
        if check:
            check(args, env)
        code = args.handler(args, env)
        return code
    except PwsError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        code, error = exc.exit_code, exc.problem
        return code
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        code, error = 130, "interrupted"
        return 130
    except Interrupted as exc:
        print(f"{parser.prog}: stopped by {signal.Signals(exc.signum).name}", file=sys.stderr)
        code, error = 128 + exc.signum, "stopped"
        return code
    finally:
        audit_cmd.record(parser.prog, args, argv, who=who, uid=uid, via=via, code=code,
                         error=error)


def _installed_formulae() -> list[formulae.Formula]:
    paths = Paths.from_env()
    return [formulae.load(name, paths) for name in formulae.available(paths)]


def mksite_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mksite", epilog=EPILOG,
                                     description="Make a Python web site live behind nginx.")
    mksite.add_arguments(parser)
    for formula in _installed_formulae():
        formula.add_arguments(parser)
    parser.set_defaults(handler=mksite.run)
    return parser


def rmsite_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rmsite", epilog=EPILOG,
                                     description="Remove a site and everything mksite made for it.")
    rmsite.add_arguments(parser)
    parser.set_defaults(handler=rmsite.run)
    return parser


def _add(sub, name: str, handler: Callable, help: str, *, site: str = "") -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(handler=handler, command=name)
    if site == "one":
        parser.add_argument("name", help="site name")
    elif site == "one-or-all":
        parser.add_argument("name", nargs="?", help="site name")
        parser.add_argument("--all", action="store_true", help="every site")
    return parser


def pws_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pws", epilog=EPILOG,
                                     description="Look after PWS sites (Python web apps behind nginx).")
    parser.add_argument("--version", action="version", version=f"pws {__version__}")
    sub = parser.add_subparsers(metavar="COMMAND", required=True)
    _add(sub, "list", sites.run_list, "list the sites and their state")
    _add(sub, "status", sites.run_status, "state, pid, memory and last errors of a site", site="one")
    logs = _add(sub, "logs", sites.run_logs, "the app's journal and the site's nginx logs", site="one")
    logs.add_argument("-n", "--lines", type=int, default=50, help="lines of each log (default 50)")
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument("--process", metavar="PROC", help="the log of one of the site's processes "
                      "or timers (pws process, pws timer) instead")
    for action, text in (("start", "start a site's socket and gunicorn"),
                         ("stop", "stop a site (its socket too)"),
                         ("restart", "restart gunicorn (requests wait in the socket meanwhile)"),
                         ("reload", "load new code without dropping a request")):
        cmd = _add(sub, action, control.run_action, text, site="one-or-all")
        cmd.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    apply = _add(sub, "apply", control.run_apply,
                 "re-derive a site's venv, config, units and vhost from its site.toml", site="one-or-all")
    apply.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    rebuild = _add(sub, "rebuild", rebuild_cmd.run,
                   "a venv for the system's Python for sites made for another one (after a "
                   "Debian upgrade), live once it answers", site="one-or-all")
    rebuild.add_argument("-q", "--quiet", action="store_true", help="print nothing on success")
    deploy = _add(sub, "deploy", deploy_cmd.run,
                  "build a new release, check it, and switch to it with no request lost",
                  site="one")
    deploy_cmd.add_arguments(deploy)
    _add(sub, "releases", releases_cmd.run_list, "a site's releases: the live one, the kept ones, "
         "the refused ones", site="one")
    rollback = _add(sub, "rollback", releases_cmd.run_rollback,
                    "go back to an earlier release (default: the one before the live one)",
                    site="one")
    releases_cmd.add_rollback_arguments(rollback)
    cfg = _add(sub, "config", config.run, "show or change a site's tunables, then re-apply it",
               site="one")
    config.add_arguments(cfg)
    alert = _add(sub, "alerts", alerts.run, "sites that failed, and why")
    alerts.add_arguments(alert)
    probe = _add(sub, "health", health.run,
                 "probe running sites with a real request; restart the hung ones", site="one-or-all")
    probe.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    tls = _add(sub, "tls", tls_cmd.run, "a site's HTTPS: status, on, off, renew, self-signed, "
               "local-ca")
    tls_cmd.add_arguments(tls)
    _add(sub, "tls-deployed", tls_cmd.run_deployed, "certbot's deploy hook (not for people)")
    env_parser = _add(sub, "env", env_cmd.run, "show, set or unset the app's environment variables",
               site="one")
    env_cmd.add_arguments(env_parser)
    run_parser = _add(sub, "run", run_cmd.run,
               "run a one-off command as the site user, in the site's venv and environment",
               site="one")
    run_cmd.add_arguments(run_parser)
    process_cmd.add_process_arguments(_add(
        sub, "process", process_cmd.run_process,
        "a site's long-running processes (workers): add, scale, remove, list", site="one"))
    process_cmd.add_timer_arguments(_add(
        sub, "timer", process_cmd.run_timer,
        "a site's scheduled commands (systemd timers): add, remove, list", site="one"))
    _add_delegation(sub)
    for formula in _installed_formulae():
        for name, text, add_arguments, handler in formula.commands():
            add_arguments(_add(sub, name, handler, text))
    nginx = sub.add_parser("nginx", help="what pws changed in /etc/nginx",
                           description="What pws changed in /etc/nginx, and what the admin changed since.")
    nginx_sub = nginx.add_subparsers(metavar="ACTION", required=True)
    for action, handler, text in (("status", nginx_cmd.run_status, "summary per path"),
                                  ("diff", nginx_cmd.run_diff, "unified diff, snapshot -> now")):
        p = nginx_sub.add_parser(action, help=text, description=text)
        p.set_defaults(handler=handler, command=f"nginx {action}")
    return parser


def _add_delegation(sub) -> None:
    """Sites without root: the admin's grants, the audit log, a user's git remote."""
    grant_cmd.add_grant_arguments(_add(sub, "grant", grant_cmd.run_grant,
                                       "let an ordinary user run their own sites through pwsd"))
    _add(sub, "grants", grant_cmd.run_grants, "who may run sites, on which domains, with which "
         "limits")
    grant_cmd.add_revoke_arguments(_add(sub, "revoke", grant_cmd.run_revoke,
                                        "take a user's grant back (their sites stay)"))
    audit_cmd.add_arguments(_add(sub, "audit", audit_cmd.run,
                                 "who changed what, when, and how it ended"))
    git_cmd.add_arguments(_add(sub, "git", git_cmd.run, "make your git remote for a site: a "
                               "push to its branch deploys it (run as the site's owner)"))


def main_pws(argv: list[str] | None = None) -> int:
    return _dispatch(pws_parser(), argv)


def main_mksite(argv: list[str] | None = None) -> int:
    return _dispatch(mksite_parser(), argv)


def main_rmsite(argv: list[str] | None = None) -> int:
    return _dispatch(rmsite_parser(), argv)


if __name__ == "__main__":
    sys.exit(main_pws())
