"""Running a program as a site user: the only way pws runs anything of a site (docs/security.md).

The switch happens in the child before exec (setgroups([]), setgid, setuid), so the environment
given here reaches only the program, running as the site user: nothing a site can set
(LD_PRELOAD, PYTHONPATH, ...) ever reaches a process running as root, as it would through
`runuser` or `su`, which run as root with the caller's environment. The working directory is
entered by the site user (`env -C`), never by root on its behalf. Every program runs in a
session of its own, killed when it ends: nothing it started outlives it in that session. An
interactive program never gets root's terminal (it could push keystrokes into root's shell
with TIOCSTI): it gets a pty of its own, which root relays.
"""
from __future__ import annotations

import os
import pwd
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from . import scopes
from .errors import CommandFailed
from .ptyrelay import relay_through_pty, uses_a_terminal

BASE_PATH = "/usr/bin:/bin"
ENV = "/usr/bin/env"


def ids(user: str) -> tuple[int, int]:
    entry = pwd.getpwnam(user)
    return entry.pw_uid, entry.pw_gid


def base_env(home: Path, venv: Path | None = None) -> dict[str, str]:
    path = f"{venv}/bin:{BASE_PATH}" if venv else BASE_PATH
    return {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8"}


def run_as(user: str, argv: Sequence[str | os.PathLike], *, env: dict[str, str],
           cwd: str | os.PathLike = "/", input: str | None = None, timeout: float = 1800,
           capture: bool = True, problem: str = "", fix: str = "",
           umask: int = 0o022) -> subprocess.CompletedProcess:
    """argv as user (its own group only), env as given and nothing else, from cwd (entered
    as the user). Raises CommandFailed (with the output's tail) on a time-out, or on a
    non-zero exit when problem is given. capture=False is for interactive use."""
    uid, gid = ids(user)
    cmd = [ENV, "-C", str(cwd), "--", *(str(a) for a in argv)]
    kwargs = dict(user=uid, group=gid, extra_groups=[], env=env, cwd="/", umask=umask,
                  start_new_session=True)
    if not capture:
        return subprocess.CompletedProcess(cmd, _interactive(cmd, kwargs))
    limits = scopes.wanted(user)
    proc = _start_held(cmd, kwargs, user, limits) if limits else subprocess.Popen(
        cmd, **kwargs, text=True, stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(f"{problem or argv[0]} took more than {timeout:.0f} s and was "
                            "stopped.", fix) from exc
    finally:  # done, timed out or interrupted: nothing of it stays behind in its session
        _kill_group(proc)
    done = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    if proc.returncode != 0 and problem:
        output = (out + err).strip()
        tail = "\n".join(output.splitlines()[-15:])
        raise CommandFailed(f"{problem}\n{tail}\n" if tail else problem, fix, output)
    return done


def _start_held(cmd: list[str], kwargs: dict, user: str,
                limits: dict[str, str]) -> subprocess.Popen:
    """cmd behind a shell (the user's) that waits on a pipe until root has moved it into a
    scope with the site's limits (scopes.move): nothing of the site runs outside it."""
    hold, release = os.pipe()
    held = ["/bin/sh", "-c", f'read _ <&{hold} && exec {hold}<&- && exec "$@"', "sh", *cmd]
    try:
        proc = subprocess.Popen(held, **kwargs, text=True, pass_fds=(hold,),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    finally:
        os.close(hold)
    try:
        scopes.move(proc.pid, user, limits)
        os.write(release, b"go\n")
    except BaseException:
        _kill_group(proc)
        raise
    finally:
        os.close(release)
    return proc


def _interactive(cmd: list[str], kwargs: dict) -> int:
    if uses_a_terminal():
        return relay_through_pty(cmd, kwargs, on_exit=_kill_group)
    proc = subprocess.Popen(cmd, **kwargs)  # pipes or files: nothing to push keystrokes into
    try:
        return proc.wait()
    finally:
        _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
