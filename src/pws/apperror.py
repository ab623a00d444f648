"""The app's own error, from the end of its log (the journal, the init.d log or the health
gate's), and the fix it points to where pws can tell: shared by mksite, restart, the gate and
`pws status`. Pure functions of the log's lines; nothing here runs or reads site code."""
from __future__ import annotations

import re

LINES = 12  # the exception line and the traceback lines before it
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|NotFound|"
                        r"ImproperlyConfigured)\b")
_WRITE_DENIED = re.compile(r"(OSError|PermissionError): \[Errno (30|13)\] [^:]*: "
                           r"'(?P<path>/srv/pws/[^']*)'")
_NO_MODULE = re.compile(r"ModuleNotFoundError: No module named '(?P<module>[\w.]+)'")


def app_error(lines: list[str], shown: int = LINES) -> list[str]:
    """The last exception of the log and the lines before it (gunicorn's own frames left
    out); else the log's last lines."""
    lines = _without_gunicorn_frames(lines)
    errors = [i for i, line in enumerate(lines) if _EXCEPTION.match(line.strip())
              and "gunicorn.errors" not in line]
    if not errors:
        return lines[-shown:]
    return lines[max(0, errors[-1] - shown + 1):errors[-1] + 1]


def has_exception(lines: list[str]) -> bool:
    return any(_EXCEPTION.match(line.strip()) and "gunicorn.errors" not in line
               for line in lines)


def _without_gunicorn_frames(lines: list[str]) -> list[str]:
    """A traceback's frames inside gunicorn (how it loads an app) say nothing of the app."""
    kept, skipping = [], False
    for line in lines:
        if line.strip().startswith("File "):
            skipping = "/site-packages/gunicorn/" in line
        elif not line.startswith(" "):
            skipping = False
        if not skipping:
            kept.append(line)
    return kept


def fix_for(lines: list[str], site: str) -> str:
    """What the error points to, in a sentence; '' when pws cannot tell."""
    text = "\n".join(lines)
    denied = [m for m in _WRITE_DENIED.finditer(text) if _in_code(m.group("path"))]
    if denied:
        return (f"the app writes into its code directory ({denied[-1].group('path')}), which is "
                f"read-only: write to /srv/pws/{site}/data (e.g. the SQLite file, DATABASE_URL), "
                f"/srv/pws/{site}/media (uploads) or, for Flask, the instance folder "
                f"(app.instance_path, which pws links to /srv/pws/{site}/data/instance)")
    missing = list(_NO_MODULE.finditer(text))
    if missing:
        module = missing[-1].group("module").split(".")[0]
        return (f"the module '{module}' is missing: add its package to the project's "
                f"requirements.txt (or `pws config {site} requirements=...`), or check --app")
    return ""


def _in_code(path: str) -> bool:
    """A path of the site's code (app/ or the venv of a release), not of data/ or media/."""
    parts = path.split("/")  # '', srv, pws, NAME, what
    return len(parts) > 4 and parts[4] in ("releases", "current", "venvs", "app", "venv")


def message(lines: list[str]) -> str:
    """The error lines as they go into a PwsError's problem: indented under it, control
    characters shown as \\xNN (root's terminal prints them)."""
    from .ui import printable
    return (":\n    " + "\n    ".join(printable(line) for line in lines)) if lines else "."
