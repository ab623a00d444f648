"""The journal of a mksite in progress: /var/lib/pws/pending/NAME.json, written before mksite
creates anything and removed once the site is live or fully rolled back. If mksite dies where
it cannot roll back (SIGKILL, a power cut), the journal names the half-made site, mksite
refuses the name, and `rmsite NAME` removes what is left (commands/rmsite.py)."""
from __future__ import annotations

import json
import os

from . import validate
from .fsutil import write_atomic
from .paths import Paths
from .site import Site


def begin(paths: Paths, site: Site) -> None:
    """Everything mksite checked was absent before it acts is this run's to remove."""
    paths.pending_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(paths.pending_dir, 0o700)
    record = {"name": site.name, "formula": site.formula, "database": site.database}
    write_atomic(paths.pending_file(site.name), json.dumps(record) + "\n", 0o600)


def end(paths: Paths, name: str) -> None:
    paths.pending_file(name).unlink(missing_ok=True)


def read(paths: Paths, name: str) -> Site | None:
    """The half-made site of that name, if a mksite left one (fields needed to remove it)."""
    validate.site_name(name)
    try:
        record = json.loads(paths.pending_file(name).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        record = {}
    database = record.get("database") if record.get("database") in ("sqlite", "postgresql") else ""
    formula = record.get("formula") if str(record.get("formula", "")).isidentifier() else "wsgi"
    return Site(name=name, formula=formula, app="", domains=[f"{name}.localhost"], database=database)
