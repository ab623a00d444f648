"""The app's own environment variables (`pws env`): names, values, the file format, masking.

The admin's variables are the secret `user_env` of the site (SecretsStore: root:pws-NAME 0640);
SecretsStore.write_env merges them with pws's own into the site's `env` file, which every
process of the site gets (units, `pws run`, `pws manage`, hooks). Both files hold literal
`KEY=VALUE` lines, split at the first `=`: no quoting, no escapes, so a value is any bytes but
NUL, LF and CR, kept exactly (str here, decoded with surrogateescape; bytes on disk).
CR is refused with LF: readers that take CR as a line end (Python's text files, which the
gunicorn config reads it as; systemd's EnvironmentFile=) would see a second variable there.
docs/security.md lists the reserved names and why.

The service gets the file through its gunicorn config, which sets each variable as it is.
"""
from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import InvalidInput

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_NAME = 128
MAX_VALUE = 32 * 1024  # bytes: far below the kernel's 128 KiB for one environment string
MAX_VARS = 256
FORBIDDEN_BYTES = {"\0": "NUL", "\n": "a newline", "\r": "a carriage return"}
ENCODING, ERRORS = "utf-8", "surrogateescape"
MASK = "********"

PWS_SETS = "pws sets it for the site"
RESERVED = {
    "PWS_SITE": PWS_SETS, "DATABASE_URL": PWS_SETS, "DJANGO_SETTINGS_MODULE": PWS_SETS,
    "PATH": "it decides which programs run (pws puts the site's venv first)",
    "HOME": "pws sets it to the site's home", "USER": "it names the site user",
    "LOGNAME": "it names the site user", "SHELL": "it names the site user's shell",
    "PWD": "it is the process's working directory",
    "VIRTUAL_ENV": "the site's venv is fixed by pws",
    "GLIBC_TUNABLES": "the C library reads it at start-up",
    "NOTIFY_SOCKET": "systemd's service protocol uses it",
    "MAINPID": "systemd sets it", "MANAGERPID": "systemd sets it",
    "INVOCATION_ID": "systemd sets it", "JOURNAL_STREAM": "systemd sets it",
    "RUNTIME_DIRECTORY": "gunicorn's ready marks for rolling reloads live there",
    "STATE_DIRECTORY": "systemd sets it", "CACHE_DIRECTORY": "systemd sets it",
    "LOGS_DIRECTORY": "systemd sets it", "CONFIGURATION_DIRECTORY": "systemd sets it",
    "CREDENTIALS_DIRECTORY": "systemd sets it",
    "BASH_ENV": "every shell the app starts would run the file it names",
    "IFS": "it changes how every shell the app starts splits words",
    "SHELLOPTS": "it changes every shell the app starts",
    "BASHOPTS": "it changes every shell the app starts",
}
RESERVED_PREFIXES = {
    "PWS_": "names starting with PWS_ are pws's own",
    "LD_": "the dynamic loader reads LD_* (code would load from outside the site's venv)",
    "PYTHON": "Python reads PYTHON* at start-up (search path, start-up code)",
    "GUNICORN_": "gunicorn reads GUNICORN_* and would override pws's config (bind, workers)",
    "LISTEN_": "systemd's socket activation passes the site's socket in LISTEN_*",
    "WATCHDOG_": "systemd's watchdog uses WATCHDOG_*",
    "SYSTEMD_": "systemd reads SYSTEMD_*",
}


def reserved_reason(name: str, pws_names: Iterable[str] = ()) -> str | None:
    """Why the admin may not set NAME (pws_names: what the site's formula sets), or None."""
    if name in pws_names:
        return PWS_SETS
    if name in RESERVED:
        return RESERVED[name]
    return next((why for prefix, why in RESERVED_PREFIXES.items() if name.startswith(prefix)),
                None)


def check_name(name: str, pws_names: Iterable[str] = ()) -> None:
    shown = repr(name) if name else "An empty name"
    if not NAME.fullmatch(name) or len(name) > MAX_NAME:
        raise InvalidInput(f"{shown} is not a variable name.",
                           f"use letters, digits and _ (not first a digit), at most {MAX_NAME}.")
    why = reserved_reason(name, pws_names)
    if why:
        raise InvalidInput(f"{name} is reserved: {why}.", "choose another name.")


def check_value(name: str, value: str) -> None:
    for char, what in FORBIDDEN_BYTES.items():
        if char in value:
            raise InvalidInput(f"The value of {name} holds {what}, which no variable can hold.",
                               "give it on one line (encode it, e.g. base64, if it needs "
                               "several).")
    if len(encode(value)) > MAX_VALUE:
        raise InvalidInput(f"The value of {name} is longer than {MAX_VALUE} bytes.",
                           "store a large value in a file of the site instead.")


def encode(text: str) -> bytes:
    return text.encode(ENCODING, ERRORS)


def decode(data: bytes) -> str:
    return data.decode(ENCODING, ERRORS)


def parse(data: bytes) -> dict[str, str]:
    """KEY=VALUE lines (split at LF only, then at the first '='); lines without '=' skipped."""
    env = {}
    for line in data.split(b"\n"):
        key, sep, value = line.partition(b"=")
        if sep:
            env[decode(key)] = decode(value)
    return env


def render(env: dict[str, str]) -> bytes:
    """The file for env, sorted by name; refuses what would not read back the same."""
    for key, value in env.items():
        if not NAME.fullmatch(key):
            raise InvalidInput(f"{key!r} is not a variable name.", "remove it.")
        check_value(key, value)
    return b"".join(encode(f"{key}={env[key]}\n") for key in sorted(env))


def mask(value: str) -> str:
    return MASK if value else ""


def parse_assignments(items: list[str], read_value, pws_names: Iterable[str] = ()) -> dict[str, str]:
    """`KEY=VALUE` or a bare `KEY` (its value from read_value(KEY), at most one) -> {KEY: VALUE},
    every name and value checked: nothing is stored unless all are good."""
    if not items:
        raise InvalidInput("Nothing to set.", "give KEY=VALUE, or KEY to read its value from stdin.")
    bare = [item for item in items if "=" not in item]
    if len(bare) > 1:
        raise InvalidInput(f"Only one value can come from stdin, not those of {', '.join(bare)}.",
                           "give the others as KEY=VALUE, or run pws env set once per KEY.")
    changes: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        check_name(key, pws_names)
        if key in changes:
            raise InvalidInput(f"{key} is given twice.", "give each name once.")
        changes[key] = value if sep else read_value(key)
        check_value(key, changes[key])
    return changes


def check_names(names: list[str], pws_names: Iterable[str] = ()) -> None:
    if not names:
        raise InvalidInput("No name to unset.", "give one or more names.")
    for name in names:
        check_name(name, pws_names)


def check_count(env: dict[str, str]) -> None:
    if len(env) > MAX_VARS:
        raise InvalidInput(f"A site can have at most {MAX_VARS} variables; this would make "
                           f"{len(env)}.", "unset some first.")
