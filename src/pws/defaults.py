"""Admin-wide defaults for new sites, from /etc/pws/pws.toml (optional):

    [defaults]
    workers = 2
    idle = 15        # minutes; scale new sites to zero when idle
"""
from __future__ import annotations

import tomllib

from .errors import InvalidInput
from .paths import Paths

KEYS = ("workers", "timeout", "idle", "health_path", "health_timeout")


def site_defaults(paths: Paths) -> dict:
    path = paths.etc / "pws.toml"
    if not path.exists():
        return {}
    try:
        table = tomllib.loads(path.read_text()).get("defaults", {})
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path} is not valid TOML: {exc}.", "fix or remove it.") from exc
    unknown = set(table) - set(KEYS)
    if unknown:
        raise InvalidInput(f"{path}: unknown default(s) {', '.join(sorted(unknown))}.",
                           f"use only: {', '.join(KEYS)}.")
    return table
