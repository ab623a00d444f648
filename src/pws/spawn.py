"""Starting a site's gunicorn as the site user with a listening socket root bound (the init.d
supervisor's, or a release's health gate), under systemd's socket-passing protocol."""
from __future__ import annotations

import os
from pathlib import Path

from . import runas, scopes

LISTEN_FD = 3  # SD_LISTEN_FDS_START


def spawn_with_socket(user: str, argv: list[str], env: dict[str, str], cwd: Path, log_fd: int,
                      listen_fd: int) -> int:
    """Start argv as user (its own group only), in a new session, with the listening socket as
    fd 3 under systemd's socket-passing protocol (LISTEN_FDS, LISTEN_PID: gunicorn then leaves
    the socket's path alone when it stops, as under systemd); its pid.

    Not subprocess: LISTEN_PID must be the child's own pid, known only after the fork. The
    switch to the user comes before exec, so the site's env reaches only the site's program."""
    uid, gid = runas.ids(user)
    limits = scopes.wanted(user)
    hold, release = os.pipe()
    pid = os.fork()
    if pid:
        os.close(hold)
        try:
            if limits:  # into the site's scope before anything of the site runs
                scopes.move(pid, user, limits)
            os.write(release, b"go")
        except BaseException:
            os.close(release)  # the child reads nothing and exits
            os.waitpid(pid, 0)
            raise
        os.close(release)
        return pid
    try:  # the child: nothing here may return into the supervisor's code
        os.close(release)
        if os.read(hold, 2) != b"go":  # the parent could not confine it: never run
            os._exit(126)
        os.close(hold)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.dup2(listen_fd, LISTEN_FD)
        os.set_inheritable(LISTEN_FD, True)
        os.closerange(LISTEN_FD + 1, os.sysconf("SC_OPEN_MAX"))
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
        os.umask(0o027)
        os.chdir(cwd)  # as the site user: the app dir is reached with its rights
        os.execve(argv[0], argv, {**env, "LISTEN_FDS": "1", "LISTEN_PID": str(os.getpid())})
    except OSError as exc:
        os.write(2, f"pws: cannot start {argv[0]} as {user}: {exc}\n".encode())
    finally:
        os._exit(127)
