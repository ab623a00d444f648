"""The grammar of everything that ends up in a file name, a unit name, a command, nginx or
Python source. Every pattern is matched with fullmatch (`$` would accept a trailing newline)
and ASCII-only, so look-alike letters and digits from other scripts never pass."""
from __future__ import annotations

import re

from .errors import InvalidInput

# pws-NAME must stay a valid system user name (32 chars at most).
MAX_NAME = 28
RESERVED_NAMES = frozenset(
    {"all", "default", "pws", "nginx", "root", "www", "www-data", "admin", "localhost",
     "static", "media", "site", "sites", "none", "test", "pwsd"}
)
MAX_DOMAINS = 64
MAX_REQUIREMENTS = 200
MAX_REQUIREMENT = 300
MAX_PATH = 255
MAX_SOURCE = 4096
DATABASES = ("", "sqlite", "postgresql")
# Each tunable: (lowest, highest, what it counts).
INT_RANGES = {
    "workers": (1, 64, "worker processes"),
    "timeout": (1, 3600, "seconds"),
    "health_timeout": (1, 300, "seconds"),
    "idle": (0, 10080, "minutes"),
    "keep_releases": (1, 100, "releases"),
}


def _re(pattern: str) -> re.Pattern:
    return re.compile(pattern, re.ASCII)


_NAME = _re(r"[a-z](?:-?[a-z0-9])*")
_FORMULA = _re(r"[a-z][a-z0-9_]{0,31}")
_LABEL = _re(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_DOTTED = _re(rf"{_IDENT}(?:\.{_IDENT})*")
_APP = _re(rf"{_IDENT}(?:\.{_IDENT})*:{_IDENT}(?:\(\))?")
_URL_PREFIX = _re(r"/(?:[A-Za-z0-9._-]+/)*")
_COMPONENT = _re(r"[A-Za-z0-9._-]+")
_PCHAR = r"(?:[A-Za-z0-9._~!*+,=:@-]|%[0-9A-Fa-f]{2})"
_HEALTH_PATH = _re(rf"/(?:{_PCHAR}|/)*(?:\?(?:{_PCHAR}|[/?&])*)?")
_DIGITS = _re(r"[0-9]{1,9}")


def site_name(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidInput("The site name is empty.", "give a name such as 'blog'.")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"The site name {name[:40]!r}... is {len(name)} characters long.",
                           f"use at most {MAX_NAME} (the site user is pws-NAME).")
    if not _NAME.fullmatch(name):
        raise InvalidInput(f"The site name {name!r} is not allowed.",
                           "use lowercase letters, digits and single hyphens, starting with a letter.")
    if name in RESERVED_NAMES:
        raise InvalidInput(f"The site name '{name}' is reserved.", "choose another name.")
    return name


def formula_name(value: str) -> str:
    if not _FORMULA.fullmatch(value):
        raise InvalidInput(f"The formula {value!r} is not a formula name.",
                           "use the name of an installed formula, e.g. wsgi or django.")
    return value


def domain(value: str) -> str:
    """A host name, lowercase, without the trailing dot."""
    d = value.lower().removesuffix(".") if value.isascii() else ""
    if not d or len(d) > 253 or not all(_LABEL.fullmatch(label) for label in d.split(".")):
        raise InvalidInput(f"The domain {value!r} is not a valid host name.",
                           "use letters, digits, hyphens and dots only, e.g. blog.example.org.")
    return d


def domains(values: list[str], site: str) -> list[str]:
    """The normalised domains of a site: at least one, at most MAX_DOMAINS, no duplicate."""
    result = [domain(v) for v in values]
    if not result:
        raise InvalidInput(f"Site '{site}' has no domain.", "add one with --domain.")
    if len(result) > MAX_DOMAINS:
        raise InvalidInput(f"Site '{site}' has {len(result)} domains.", f"use at most {MAX_DOMAINS}.")
    twice = sorted({d for d in result if result.count(d) > 1})
    if twice:
        raise InvalidInput(f"Site '{site}' names the domain {', '.join(twice)} more than once.",
                           "list each domain once.")
    return result


def app_spec(value: str) -> str:
    if not _APP.fullmatch(value):
        raise InvalidInput(f"The app {value!r} is not of the form MODULE:CALLABLE.",
                           "write e.g. --app hello:app or --app myproj.wsgi:create_app().")
    return value


def dotted_module(value: str, what: str) -> str:
    if len(value) > MAX_PATH or not _DOTTED.fullmatch(value):
        raise InvalidInput(f"{what} {value!r} is not a dotted Python module name.",
                           "write e.g. mysite.settings.")
    return value


def relative_path(value: str, what: str, *, dot: bool = False) -> str:
    """A path inside a directory: relative, components of [A-Za-z0-9._-], no '.' or '..'
    (a lone '.' only if dot=True). A trailing '/' is dropped."""
    path = value.removesuffix("/") if len(value) > 1 else value
    if dot and path == ".":
        return path
    parts = path.split("/")
    if (not path or len(path) > MAX_PATH
            or not all(_COMPONENT.fullmatch(p) and p not in (".", "..") for p in parts)):
        raise InvalidInput(f"{what} {value!r} is not a plain path inside the project.",
                           "use a relative path of letters, digits, '.', '_' and '-', "
                           "e.g. static or assets/static.")
    return path


def url_prefix(value: str) -> str:
    """'static' or '/static' -> '/static/'; a plain path prefix other than '/'."""
    url = "/" + value.strip("/") + "/" if isinstance(value, str) and value.strip("/") else "/"
    if (url == "/" or len(url) > MAX_PATH or not _URL_PREFIX.fullmatch(url)
            or any(p in (".", "..") for p in url.split("/"))):
        raise InvalidInput(f"The URL prefix {value!r} is not a plain path prefix other than '/'.",
                           "write e.g. /static/.")
    return url


def static_mapping(value: str) -> tuple[str, str]:
    """'URL=DIR' -> ('/url/', 'dir'); DIR is relative to the project and may not leave it."""
    url, sep, directory = value.partition("=")
    if not sep or not url or not directory:
        raise InvalidInput(f"--static {value!r} is not URL=DIR.", "write e.g. --static /static=static.")
    return url_prefix(url), relative_path(directory, "The static directory")


def dir_mapping(value: dict, field: str) -> dict[str, str]:
    """A site's static or aliases table, keys and values normalised."""
    result: dict[str, str] = {}
    for url, directory in value.items():
        key = url_prefix(url)
        if key in result:
            raise InvalidInput(f"{field}: the URL prefix {key} is given twice.", "keep one.")
        result[key] = relative_path(directory, f"{field}[{key!r}]")
    return result


def health_path(value: str) -> str:
    if len(value) > MAX_PATH or not _HEALTH_PATH.fullmatch(value):
        raise InvalidInput(f"health_path {value!r} is not a plain URL path.",
                           "use e.g. /healthz (letters, digits and -._~!*+,=:@% only).")
    return value


def tunable_int(key: str, value: object) -> int:
    low, high, unit = INT_RANGES[key]
    if type(value) is not int or not low <= value <= high:
        raise InvalidInput(f"{key} = {value!r} is not a whole number from {low} to {high}.",
                           f"give {key} as {low}-{high} {unit}, e.g. {key} = {max(low, 2)}.")
    return value


def int_text(key: str, raw: str) -> int:
    """A tunable typed on the command line: plain ASCII digits only (int() takes '٣' and '1_0')."""
    if not _DIGITS.fullmatch(raw):
        raise InvalidInput(f"{key} must be a whole number, not {raw!r}.", f"e.g. {key}=2.")
    return tunable_int(key, int(raw))


def database(value: str) -> str:
    if value not in DATABASES:
        raise InvalidInput(f"database {value!r} is not known.", "use \"\", sqlite or postgresql.")
    return value


TLS_MODES = ("", "acme", "self-signed", "local-ca")


def tls_mode(value: str) -> str:
    if value not in TLS_MODES:
        raise InvalidInput(f"tls {value!r} is not one of acme, self-signed, local-ca (or \"\").",
                           "set it with `pws tls NAME on|off|self-signed|local-ca`.")
    return value


def source(value: str) -> str:
    """Only a record of where a project came from; still printed, so no control characters."""
    if len(value) > MAX_SOURCE or not value.isprintable():
        raise InvalidInput(f"source {value[:80]!r} is not a printable path of at most "
                           f"{MAX_SOURCE} characters.", "fix or empty it.")
    return value


# ---------------------------------------------------------------- requirements (PEP 508)
_PKG = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_VERSION_ONE = r"(?:===|==|!=|~=|<=|>=|<|>) *[A-Za-z0-9._*+!-]+"
_VERSIONS = rf"{_VERSION_ONE}(?: *, *{_VERSION_ONE})*"
_REQUIREMENT = _re(rf"(?P<name>{_PKG}) *(?:\[ *{_PKG}(?: *, *{_PKG})* *\])? *"
                   rf"(?:{_VERSIONS}|\( *{_VERSIONS} *\))? *(?:;(?P<marker>.*))?")
_MARKER_VARS = frozenset({
    "python_version", "python_full_version", "os_name", "sys_platform", "platform_release",
    "platform_system", "platform_version", "platform_machine", "platform_python_implementation",
    "implementation_name", "implementation_version", "extra"})
_MARKER_TOKEN = _re(r" *(\(|\)|===|==|!=|~=|<=|>=|<|>|not +in\b|in\b|and\b|or\b"
                    r"|'[A-Za-z0-9._+*!-]*'|\"[A-Za-z0-9._+*!-]*\"|[a-z_]+)")
# pip takes a name with an archive's extension for a file in its working directory.
_ARCHIVES = (".whl", ".zip", ".tar", ".gz", ".tgz", ".bz2", ".tbz", ".xz", ".txz", ".lz", ".tlz")
_MARKER_OPS = frozenset({"===", "==", "!=", "~=", "<=", ">=", "<", ">", "in", "not in"})


def requirement(value: str) -> str:
    """A plain PEP 508 requirement (name, extras, versions, marker): never a pip option,
    a path, a URL or `name @ url`, which would make pip fetch or run something else."""
    match = (_REQUIREMENT.fullmatch(value)
             if len(value) <= MAX_REQUIREMENT and value == value.strip(" ") else None)
    if (not match or match["name"].lower().endswith(_ARCHIVES)
            or (match["marker"] is not None and not _marker_ok(match["marker"]))):
        raise InvalidInput(f"The requirement {value[:80]!r} is not a plain package requirement.",
                           "give NAME[EXTRAS] with optional versions and marker, e.g. "
                           "'requests>=2.31'; no pip options, paths or URLs.")
    return value


def requirements(values: list[str]) -> list[str]:
    if len(values) > MAX_REQUIREMENTS:
        raise InvalidInput(f"{len(values)} requirements are too many.",
                           f"list at most {MAX_REQUIREMENTS}, or use the project's requirements.txt.")
    return [requirement(v) for v in values]


def _marker_tokens(text: str) -> list[str] | None:
    tokens, pos = [], 0
    while text[pos:].strip(" "):
        match = _MARKER_TOKEN.match(text, pos)
        if not match:
            return None
        tokens.append(" ".join(match.group(1).split()))
        pos = match.end()
    return tokens


def _marker_ok(text: str) -> bool:
    """marker := term (('and'|'or') term)*; term := '(' marker ')' | value op value."""
    tokens = _marker_tokens(text)
    if not tokens:
        return False
    end = _marker_expr(tokens, 0)
    return end == len(tokens)


def _marker_expr(tokens: list[str], i: int) -> int | None:
    i = _marker_term(tokens, i)
    while i is not None and i < len(tokens) and tokens[i] in ("and", "or"):
        i = _marker_term(tokens, i + 1)
    return i


def _marker_term(tokens: list[str], i: int) -> int | None:
    if i < len(tokens) and tokens[i] == "(":
        i = _marker_expr(tokens, i + 1)
        return i + 1 if i is not None and i < len(tokens) and tokens[i] == ")" else None
    if i + 2 < len(tokens) and _marker_value(tokens[i]) and tokens[i + 1] in _MARKER_OPS \
            and _marker_value(tokens[i + 2]):
        return i + 3
    return None


def _marker_value(token: str) -> bool:
    return token in _MARKER_VARS or token[:1] in ("'", '"')


# ---------------------------------------------------------------- release commands
MAX_COMMANDS = 20
MAX_COMMAND = 300
_PROGRAM = _re(r"[A-Za-z0-9_][A-Za-z0-9._+-]*")


def command(value: str, field: str) -> list[str]:
    """A release command line (`flask init-db`), split like a shell would without running
    one: printable, a plain program name first (found in the site's venv, then /usr/bin:/bin),
    run as the site user. Returns its argv."""
    import shlex
    try:
        argv = shlex.split(value) if len(value) <= MAX_COMMAND and value.isprintable() else []
    except ValueError:
        argv = []
    if not argv or not _PROGRAM.fullmatch(argv[0]):
        raise InvalidInput(f"{field}: {value[:80]!r} is not a command line pws runs.",
                           f"give a program of the site's venv and its arguments, at most "
                           f"{MAX_COMMAND} printable characters, e.g. 'flask init-db'.")
    return argv


def commands(values: list[str], field: str) -> list[str]:
    if len(values) > MAX_COMMANDS:
        raise InvalidInput(f"{field}: {len(values)} commands are too many.",
                           f"list at most {MAX_COMMANDS}.")
    for value in values:
        command(value, field)
    return values


# ---------------------------------------------------------------- formula options
def _ini(value: str) -> str:
    path = relative_path(value, "options.ini")
    if not path.endswith(".ini"):
        raise InvalidInput(f"options.ini {value!r} does not name an .ini file.",
                           "give the paste config file, e.g. production.ini.")
    return path


def _interface(value: str) -> str:
    if value not in ("wsgi", "asgi"):
        raise InvalidInput(f"options.interface {value!r} is neither wsgi nor asgi.",
                           "write interface = \"asgi\" (served by uvicorn's worker) or remove it.")
    return value


OPTIONS = {
    "project_dir": lambda v: relative_path(v, "options.project_dir", dot=True),
    "settings": lambda v: dotted_module(v, "options.settings"),
    "ini": _ini,
    "interface": _interface,
}


def options(value: dict) -> dict[str, str]:
    """Formula options: known keys only, each value checked by its own grammar."""
    unknown = sorted(set(value) - set(OPTIONS))
    if unknown:
        raise InvalidInput(f"Unknown option(s) {', '.join(map(repr, unknown))}.",
                           f"use only: {', '.join(OPTIONS)}.")
    return {key: OPTIONS[key](v) for key, v in value.items()}


# ---------------------------------------------------------------- delegation (grants)
_USER = _re(r"[a-z_][a-z0-9_-]{0,31}")
# systemd resource settings a grant may set, each with the grammar of its value.
LIMITS = {"MemoryMax": _re(r"[1-9][0-9]{0,5}[KMG]"), "CPUQuota": _re(r"[1-9][0-9]{0,3}%"),
          "TasksMax": _re(r"[1-9][0-9]{0,5}")}


def user_name(value: str) -> str:
    if not isinstance(value, str) or not _USER.fullmatch(value):
        raise InvalidInput(f"{str(value)[:40]!r} is not a user name.",
                           "give the login name of an existing user, e.g. alice.")
    return value


def owner(value: str) -> str:
    return value if value == "" else user_name(value)


def limits(value: dict) -> dict[str, str]:
    for key, text in value.items():
        grammar = LIMITS.get(key)
        if grammar is None:
            raise InvalidInput(f"limits: unknown setting {key!r}.",
                               f"use only {', '.join(LIMITS)}.")
        if not grammar.fullmatch(text):
            raise InvalidInput(f"limits: {key} = {text!r} is not valid.",
                               "e.g. MemoryMax = \"512M\", CPUQuota = \"50%\", TasksMax = \"64\".")
    return dict(value)
