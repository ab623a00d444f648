"""`pws env`'s names, values, file format and masking (appenv), and the round trip through the
real secrets dir on a temp tree: SecretsStore writes, Context.site_env reads back the same."""
import os
import re

import pytest

from pws import appenv, secrets_store
from pws.errors import InvalidInput
from pws.formulae import Context
from pws.paths import Paths
from pws.secrets_store import FILE_MODE, SecretsStore
from pws.site import Site
from pws.transaction import Transaction
from pws.ui import UI

TRICKY = {
    "EQUALS": "a=b==c=",
    "QUOTES": "'single' \"double\" `back`",
    "LEADING_QUOTE": '"unbalanced',
    "LEADING_SQUOTE": "'unbalanced",
    "NONCHARACTER": "a\uffff\ufdd0b",
    "DOLLAR": "$HOME ${PATH} $(id) $$",
    "BACKSLASH": "C:\\path\\n\\t\\\\ end\\",
    "SPACES": "  leading and  inner",
    "TABS": "\tt\tx",
    "UTF8": "pässwörd ✓ 日本 🐍",
    "NOT_UTF8": appenv.decode(b"\xff\xfe raw \x80"),
    "HASH": "# not a comment ; nor this",
    "CONTROL": "\x1b[31mred\x07\x0b\x0c\x1c\x85end",  # splitlines() would split at \x0b..\x85
    "EMPTY": "",
    "LINE_SEP": "a\u2028b\u2029c",
}


# White space at the end of a value: the service's reader (the gunicorn config) sets each
# variable as it is, so these are accepted and kept exactly.
TRAILING = ["padded  ", "tab\t", "   ", "nbsp\u00a0", "nel\x85", "ls\u2028", "vt\x0b"]


@pytest.mark.parametrize("value", TRAILING)
def test_values_ending_in_white_space_are_accepted_and_kept(value):
    appenv.check_value("K", value)
    assert appenv.parse(appenv.encode("K=" + value + "\n")) == {"K": value}


@pytest.mark.parametrize("value", TRICKY.values(), ids=TRICKY)
def test_tricky_values_pass(value):
    appenv.check_value("K", value)


@pytest.mark.parametrize("name", ["STRIPE_KEY", "DEBUG_TOOLBAR", "_x", "a1", "LANG", "TZ",
                                  "path", "ENV", "X" * appenv.MAX_NAME])
def test_good_names_pass(name):
    appenv.check_name(name)


@pytest.mark.parametrize("name", ["", "1A", "A-B", "A B", "A=B", "é", "A.B", "X" * (appenv.MAX_NAME + 1)])
def test_bad_names_are_refused_with_the_fix(name):
    with pytest.raises(InvalidInput, match="is not a variable name") as exc:
        appenv.check_name(name)
    assert "letters, digits and _" in exc.value.fix


@pytest.mark.parametrize("name, why", [
    ("PWS_SITE", "pws sets it"), ("PWS_ANYTHING", "PWS_"), ("DATABASE_URL", "pws sets it"),
    ("DJANGO_SETTINGS_MODULE", "pws sets it"), ("PATH", "which programs run"),
    ("HOME", "home"), ("LD_PRELOAD", "dynamic loader"), ("LD_LIBRARY_PATH", "dynamic loader"),
    ("PYTHONPATH", "Python reads"), ("PYTHONSTARTUP", "Python reads"),
    ("VIRTUAL_ENV", "venv"), ("GUNICORN_CMD_ARGS", "gunicorn"), ("LISTEN_FDS", "socket"),
    ("NOTIFY_SOCKET", "systemd"), ("RUNTIME_DIRECTORY", "ready marks"),
    ("BASH_ENV", "shell"), ("GLIBC_TUNABLES", "C library"),
])
def test_reserved_names_are_refused_with_a_reason(name, why):
    with pytest.raises(InvalidInput, match=f"{name} is reserved: .*{why}"):
        appenv.check_name(name)


def test_what_a_formula_sets_is_reserved_too():
    appenv.check_name("SECRET_KEY")
    with pytest.raises(InvalidInput, match="SECRET_KEY is reserved: pws sets it"):
        appenv.check_name("SECRET_KEY", {"SECRET_KEY"})


@pytest.mark.parametrize("value, what", [("a\nPATH=/tmp", "a newline"),
                                         ("a\rPATH=/tmp", "a carriage return"),
                                         ("a\0b", "NUL"), ("\n", "a newline")])
def test_a_value_cannot_hold_a_second_line(value, what):
    with pytest.raises(InvalidInput, match=f"The value of K holds {what}") as exc:
        appenv.check_value("K", value)
    assert "one line" in exc.value.fix


def test_a_value_has_a_size_limit():
    appenv.check_value("K", "x" * appenv.MAX_VALUE)
    with pytest.raises(InvalidInput, match="longer than"):
        appenv.check_value("K", "x" * (appenv.MAX_VALUE + 1))
    with pytest.raises(InvalidInput, match="longer than"):  # counted in bytes
        appenv.check_value("K", "é" * (appenv.MAX_VALUE // 2 + 1))


def test_tricky_values_round_trip_exactly_through_the_file_format():
    data = appenv.render(TRICKY)
    assert appenv.parse(data) == TRICKY
    assert data.count(b"\n") == len(TRICKY)  # one line each, nothing else
    assert b'LEADING_QUOTE="unbalanced\n' in data  # literal: no quoting added
    assert b"NOT_UTF8=\xff\xfe raw \x80\n" in data  # the exact bytes


def test_render_refuses_what_would_not_read_back():
    with pytest.raises(InvalidInput):
        appenv.render({"A": "x\nB=y"})
    with pytest.raises(InvalidInput):
        appenv.render({"A=B": "x"})


def test_parse_skips_lines_without_an_equals_sign():
    assert appenv.parse(b"A=1\n\njunk\nB==2\n") == {"A": "1", "B": "=2"}


def test_mask_never_shows_the_value():
    for value in TRICKY.values():
        masked = appenv.mask(value)
        assert masked in ("", appenv.MASK)
        assert not value or value not in masked


def test_assignments_and_a_bare_key_from_stdin():
    asked = []

    def read_value(key):
        asked.append(key)
        return "from=stdin"

    got = appenv.parse_assignments(["A=1", "B", "C=", "D=x=y"], read_value)
    assert got == {"A": "1", "B": "from=stdin", "C": "", "D": "x=y"}
    assert asked == ["B"]


@pytest.mark.parametrize("items, message", [
    ([], "Nothing to set"), (["A", "B"], "Only one value can come from stdin"),
    (["A=1", "A=2"], "A is given twice"), (["A=1", "PATH=/x"], "PATH is reserved"),
    (["A=1", "1B=2"], "is not a variable name"), (["A=x\ny"], "holds a newline"),
])
def test_bad_assignments_are_refused_whole(items, message):
    with pytest.raises(InvalidInput, match=message):
        appenv.parse_assignments(items, lambda key: "v")


def test_a_value_from_stdin_is_checked_too():
    with pytest.raises(InvalidInput, match="holds a newline"):
        appenv.parse_assignments(["A"], lambda key: "one\nPATH=/evil")


def test_too_many_variables():
    appenv.check_count({f"V{i}": "" for i in range(appenv.MAX_VARS)})
    with pytest.raises(InvalidInput, match="at most"):
        appenv.check_count({f"V{i}": "" for i in range(appenv.MAX_VARS + 1)})


# --- the real secrets dir on a temp tree (the site's group is this test's own group)
@pytest.fixture
def ctx(tmp_path, monkeypatch):
    monkeypatch.setattr(secrets_store, "site_gid", lambda user, required=True: os.getgid())
    site = Site(name="blog", formula="wsgi", app="a:app", domains=["blog.example.org"])
    return Context(site, Paths(root=tmp_path, share=tmp_path), UI(True, True), Transaction())


def test_tricky_values_round_trip_through_the_secrets_dir(ctx):
    store = SecretsStore(ctx.paths, ctx.site)
    store.write_user_env(TRICKY)
    assert store.user_env() == TRICKY
    store.write_env({"PWS_SITE": "blog"})
    assert ctx.site_env() == {**TRICKY, "PWS_SITE": "blog"}
    for name in ("user_env", "env"):
        path = ctx.paths.secrets_dir("blog") / name
        assert path.stat().st_mode & 0o777 == FILE_MODE


def test_pws_variables_win_over_the_admins(ctx):
    store = SecretsStore(ctx.paths, ctx.site)
    store.write_user_env({"SECRET_KEY": "mine", "OTHER": "1"})
    store.write_env({"SECRET_KEY": "pws's"})
    assert ctx.site_env() == {"SECRET_KEY": "pws's", "OTHER": "1"}
    assert store.user_env() == {"SECRET_KEY": "mine", "OTHER": "1"}


def test_no_admin_variables_no_user_env_file(ctx):
    SecretsStore(ctx.paths, ctx.site).write_env({"PWS_SITE": "blog"})
    assert ctx.site_env() == {"PWS_SITE": "blog"}
    assert not (ctx.paths.secrets_dir("blog") / "user_env").exists()
