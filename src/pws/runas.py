"""Running a program as a site user: the only way pws runs anything of a site (docs/security.md).

The switch happens in the child before exec (setgroups([]), setgid, setuid), so the environment
given here reaches only the program, running as the site user: nothing a site can set
(LD_PRELOAD, PYTHONPATH, ...) ever reaches a process running as root, as it would through
`runuser` or `su`, which run as root with the caller's environment. Python is always run with
-I by root; here the site's own Python runs with the site's rights, from a directory it names.
"""
from __future__ import annotations

import os
import pwd
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from .errors import CommandFailed

BASE_PATH = "/usr/bin:/bin"


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
    """argv as user (its own group only), env as given and nothing else. Raises CommandFailed
    (with the output's tail) on a non-zero exit or a time-out, unless problem is empty and
    capture is False (interactive use: the caller reads returncode)."""
    uid, gid = ids(user)
    kwargs = dict(user=uid, group=gid, extra_groups=[], env=env, cwd=cwd, umask=umask)
    cmd = [str(a) for a in argv]
    if not capture:  # interactive (pws manage): the terminal is the caller's
        return subprocess.CompletedProcess(cmd, subprocess.Popen(cmd, **kwargs).wait())
    proc = subprocess.Popen(cmd, **kwargs, start_new_session=True, text=True,
                            stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        _kill_group(proc)
        raise CommandFailed(f"{problem or cmd[0]} took more than {timeout:.0f} s and was stopped.",
                            fix) from exc
    except BaseException:  # interrupted: leave nothing of the site's command running
        _kill_group(proc)
        raise
    done = subprocess.CompletedProcess(cmd, proc.returncode, out, err)
    if proc.returncode != 0 and problem:
        output = (out + err).strip()
        tail = "\n".join(output.splitlines()[-15:])
        raise CommandFailed(f"{problem}\n{tail}\n" if tail else problem, fix, output)
    return done


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
