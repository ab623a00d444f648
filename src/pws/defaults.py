"""Admin-wide defaults for new sites, from /etc/pws/pws.toml (optional):

    [defaults]
    workers = 2
    idle = 15        # minutes; scale new sites to zero when idle
"""
from __future__ import annotations

import tomllib

from . import validate
from .errors import InvalidInput
from .paths import Paths

KEYS = ("workers", "timeout", "idle", "health_path", "health_timeout", "keep_releases")


def pws_toml_table(paths: Paths, name: str) -> dict:
    """One table of /etc/pws/pws.toml ({} when the file or the table is absent)."""
    path = paths.etc / "pws.toml"
    if not path.exists():
        return {}
    try:
        table = tomllib.loads(path.read_text()).get(name, {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path} is not valid TOML: {exc}.", "fix or remove it.") from exc
    if not isinstance(table, dict):
        raise InvalidInput(f"{path}: {name} is not a table.", f"write it as [{name}].")
    return table


def site_defaults(paths: Paths) -> dict:
    """The [defaults] table, each value checked by the rule a site's own value obeys."""
    path = paths.etc / "pws.toml"
    table = pws_toml_table(paths, "defaults")
    unknown = set(table) - set(KEYS)
    if unknown:
        raise InvalidInput(f"{path}: unknown default(s) {', '.join(sorted(map(repr, unknown)))}.",
                           f"use only: {', '.join(KEYS)}.")
    try:
        for key, value in table.items():
            _check(key, value)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: [defaults] {exc.problem}", exc.fix) from exc
    return table


def _check(key: str, value: object) -> None:
    if key == "health_path":
        if not isinstance(value, str):
            raise InvalidInput(f"health_path must be a string, not {value!r}.", "e.g. \"/\".")
        validate.health_path(value)
    else:
        validate.tunable_int(key, value)
