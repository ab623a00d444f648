"""The grammar of everything a user may type that ends up in a file name, a unit name or nginx."""
from __future__ import annotations

import re
from pathlib import Path

from .errors import InvalidInput

# pws-NAME must stay a valid system user name (32 chars at most).
MAX_NAME = 28
_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
RESERVED_NAMES = frozenset(
    {"all", "default", "pws", "nginx", "root", "www", "www-data", "admin", "localhost",
     "static", "media", "site", "sites", "none", "test"}
)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_APP = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\(\))?$")
_URL_PREFIX = re.compile(r"^/([A-Za-z0-9._-]+/)*$")


def site_name(name: str) -> str:
    if not name:
        raise InvalidInput("The site name is empty.", "give a name such as 'blog'.")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"The site name '{name}' is {len(name)} characters long.",
                           f"use at most {MAX_NAME} (the site user is pws-NAME).")
    if not _NAME.match(name) or name.endswith("-") or "--" in name:
        raise InvalidInput(f"The site name {name!r} is not allowed.",
                           "use lowercase letters, digits and single hyphens, starting with a letter.")
    if name in RESERVED_NAMES:
        raise InvalidInput(f"The site name '{name}' is reserved.", "choose another name.")
    return name


def domain(value: str) -> str:
    d = value.strip().lower().rstrip(".")
    labels = d.split(".")
    if not d or len(d) > 253 or not all(_LABEL.match(label) for label in labels):
        raise InvalidInput(f"The domain {value!r} is not a valid host name.",
                           "use letters, digits, hyphens and dots only, e.g. blog.example.org.")
    return d


def app_spec(value: str) -> str:
    if not _APP.match(value):
        raise InvalidInput(f"The app {value!r} is not of the form MODULE:CALLABLE.",
                           "write e.g. --app hello:app or --app myproj.wsgi:create_app().")
    return value


def static_mapping(value: str) -> tuple[str, str]:
    """'URL=DIR' -> ('/url/', 'dir'); DIR is relative to the project and may not leave it."""
    url, sep, directory = value.partition("=")
    if not sep or not url or not directory:
        raise InvalidInput(f"--static {value!r} is not URL=DIR.", "write e.g. --static /static=static.")
    url = "/" + url.strip("/") + "/" if url.strip("/") else "/"
    if url == "/" or not _URL_PREFIX.match(url) or ".." in url.split("/"):
        raise InvalidInput(f"--static URL {url!r} is not a plain path prefix other than '/'.",
                           "write e.g. --static /static=static.")
    rel = Path(directory)
    if rel.is_absolute() or ".." in rel.parts:
        raise InvalidInput(f"--static DIR {directory!r} must be a directory inside the project.",
                           "give a path relative to the project, e.g. static.")
    return url, rel.as_posix()
