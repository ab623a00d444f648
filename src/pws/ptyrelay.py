"""An interactive site program (`pws manage NAME shell`) on a pty of its own.

Given root's terminal, a site's code could push input into root's shell (TIOCSTI) or keep the
terminal open and read what root types after it ended. Here it gets a new pty as its
controlling terminal, in a session of its own; root copies bytes between its terminal and the
pty's master, and closes the master when the program ends (the session is killed with it).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import select
import subprocess
import termios
import tty
from collections.abc import Callable


def uses_a_terminal() -> bool:
    return any(os.isatty(fd) for fd in (0, 1, 2))


def _take_the_pty_as_controlling_terminal() -> None:
    """Runs in the child after setsid and the uid switch (a pty of its own: no privilege)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def relay_through_pty(cmd: list[str], kwargs: dict,
                      on_exit: Callable[[subprocess.Popen], None]) -> int:
    master, slave = os.openpty()
    _copy_window_size(slave)
    proc = subprocess.Popen(cmd, **kwargs, stdin=slave, stdout=slave, stderr=slave,
                            preexec_fn=_take_the_pty_as_controlling_terminal)
    os.close(slave)
    try:
        with _raw_terminal():
            _copy_until_closed(master, proc)
        return proc.wait()
    finally:
        os.close(master)
        on_exit(proc)


def _copy_window_size(slave: int) -> None:
    with contextlib.suppress(OSError):
        size = fcntl.ioctl(0 if os.isatty(0) else 1, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(slave, termios.TIOCSWINSZ, size)


@contextlib.contextmanager
def _raw_terminal():
    if not os.isatty(0):
        yield
        return
    saved = termios.tcgetattr(0)
    tty.setraw(0)
    try:
        yield
    finally:
        termios.tcsetattr(0, termios.TCSAFLUSH, saved)


def _copy_until_closed(master: int, proc: subprocess.Popen) -> None:
    inputs = [master, 0]
    while True:
        readable, _, _ = select.select(inputs, [], [], 0.2)
        if master in readable:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the program and everything holding the pty are gone
                return
            if not data:
                return
            os.write(1, data)
        if 0 in readable:
            data = os.read(0, 65536)
            if data:
                os.write(master, data)
            else:
                inputs.remove(0)
        if proc.poll() is not None and master not in select.select([master], [], [], 0)[0]:
            return
