"""Talking to the user: progress on slow steps and prompts that --yes answers with defaults."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager

from .errors import InvalidInput


class UI:
    def __init__(self, assume_yes: bool = False, quiet: bool = False):
        self.assume_yes = assume_yes
        self.quiet = quiet
        self.interactive = sys.stdin.isatty() and not assume_yes

    def say(self, message: str) -> None:
        if not self.quiet:
            print(message, flush=True)

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=sys.stderr, flush=True)

    @contextmanager
    def step(self, message: str):
        """Print what is happening before a slow step and how long it took after it."""
        start = time.monotonic()
        if not self.quiet:
            print(f"… {message}", end="", flush=True)
        try:
            yield
        except BaseException:
            if not self.quiet:
                print(" failed", flush=True)
            raise
        if not self.quiet:
            print(f" done ({time.monotonic() - start:.2f}s)", flush=True)

    def ask(self, question: str, default: str) -> str:
        if not self.interactive:
            return default
        answer = input(f"{question} [{default}]: ").strip()
        return answer or default

    def confirm(self, question: str, *, default: bool, flag: str) -> bool:
        """Ask yes/no; without a terminal the default holds (the flag names how to say otherwise)."""
        if self.assume_yes:
            return default
        if not self.interactive:
            return default
        hint = "Y/n" if default else "y/N"
        while True:
            answer = input(f"{question} [{hint}] (or {flag}): ").strip().lower()
            if not answer:
                return default
            if answer in ("y", "yes"):
                return True
            if answer in ("n", "no"):
                return False
            raise InvalidInput(f"'{answer}' is not yes or no.", "answer y or n.")


def printable(text: str) -> str:
    """What an app wrote, safe for root's terminal: control characters (escape sequences that
    could retitle or rewrite the terminal) shown as \\xNN; newlines and tabs kept."""
    return "".join(c if c.isprintable() or c in "\n\t" else f"\\x{ord(c):02x}" for c in text)
