"""Running external commands with their output kept for the error message."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence

from .errors import CommandFailed


def run(cmd: Sequence[str], *, problem: str = "", fix: str = "", env: dict | None = None,
        cwd: str | os.PathLike | None = None, timeout: float | None = None,
        input: str | None = None) -> subprocess.CompletedProcess:
    """Run cmd; on failure raise CommandFailed naming the problem, with the output's tail."""
    full_env = {**os.environ, **env} if env else None
    try:
        proc = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, env=full_env,
                              cwd=cwd, timeout=timeout, input=input)
    except FileNotFoundError as exc:
        raise CommandFailed(problem or f"{cmd[0]} is not installed.", fix) from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(problem or f"{' '.join(map(str, cmd))} timed out after {timeout}s.",
                            fix) from exc
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        detail = "\n".join(output.splitlines()[-15:])
        raise CommandFailed((problem or f"`{' '.join(map(str, cmd))}` failed.") +
                            (f"\n{detail}\n" if detail else ""), fix, output)
    return proc


def succeeds(cmd: Sequence[str], **kwargs) -> bool:
    return subprocess.run(list(map(str, cmd)), capture_output=True, **kwargs).returncode == 0
