"""Issue 16: site venvs made and filled by uv, as the site user, from the site's own cache
(hard-linked into the venv, then sealed with it); Debian's pip when pip.conf says what uv
cannot honour; unmet requirements as one line, naming the Python needed and the one here."""
from __future__ import annotations

import base64
import hashlib
import io
import zipfile

import container
from site_helpers import assert_one_clear_error, footprint

EXTRA = "/root/extra-wheels"
TINY = "def app(e, s):\n    s('200 OK', [('Content-Length', '2')])\n    return [b'ok']\n"
PIP_CONF = f"[global]\nno-index = true\nfind-links =\n    {container.CT_WHEELHOUSE}\n    {EXTRA}\n"


def wheel(name: str, version: str, requires_python: str) -> bytes:
    files = {f"{name}/__init__.py": b"",
             f"{name}-{version}.dist-info/METADATA": (
                 f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                 f"Requires-Python: {requires_python}\n").encode(),
             f"{name}-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: pws-test\n"
                                                  b"Root-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
                     for path, data in files.items()) + f"{name}-{version}.dist-info/RECORD,,\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
        z.writestr(f"{name}-{version}.dist-info/RECORD", record)
    return buf.getvalue()


def test_uv_installs_as_the_site_user_from_its_own_cache_hard_linked_then_sealed(ct):
    ct.write_file("/root/tiny/tiny.py", TINY)
    ct.write_file("/etc/pip.conf", PIP_CONF)
    ct.run("mkdir -p /root/extra-wheels && chmod 755 /root /root/extra-wheels")
    made = ct.run("mksite wsgi fast --app tiny:app --from /root/tiny --yes", timeout=600)
    assert "installing with Debian's pip" not in made.stderr, made.stderr
    site_packages = f"/srv/pws/fast/current/venv/lib/{container.PYTHON_DIR}/site-packages"
    assert ct.run(f"cat {site_packages}/gunicorn-*.dist-info/INSTALLER").stdout.strip() == "uv"
    # One inode in the site's own cache and in the venv, root's and read-only after the seal.
    linked = ct.run(f"stat -c '%h %U:%G %a' {site_packages}/gunicorn/__init__.py").stdout.split()
    assert linked == ["2", "root:pws-fast", "640"], linked
    cache = ct.run("stat -c '%U %a' /var/cache/pws/pip/fast /var/cache/pws/pip/fast/uv").stdout
    assert cache.split("\n")[0] == "pws-fast 700", cache
    assert ct.run("runuser -u pws-fast -- find /srv/pws/fast/current/venv/ -writable "
                  "! -type l").stdout == ""
    # Another site cannot read, let alone write, this site's cache.
    ct.run("mksite wsgi other --app tiny:app --from /root/tiny --yes", timeout=600)
    assert ct.run("runuser -u pws-other -- ls /var/cache/pws/pip/fast", check=False).returncode != 0


# A Python newer than the suite's (3.12 on Debian 12, 3.14 on Debian 13).
NEWER = f"{container.PYTHON[0]}.{container.PYTHON[1] + 1}"


def test_a_project_needing_a_newer_python_is_told_so_in_one_line(ct):
    ct.write_file(f"{EXTRA}/needsnewer-1.0-py3-none-any.whl",
                  wheel("needsnewer", "1.0", f">={NEWER}"))
    before = footprint(ct)
    proc = ct.run("mksite wsgi newer --app tiny:app --from /root/tiny --requirement needsnewer "
                  "--yes", check=False, timeout=600)
    have = ct.run("python3 -c 'import platform; print(platform.python_version())'").stdout.strip()
    assert_one_clear_error(proc, f"needsnewer needs Python >={NEWER}; this system has Python "
                                 f"{have} (/usr/bin/python3)")
    assert footprint(ct) == before


def test_debian_pip_installs_when_pip_conf_says_what_uv_cannot_honour(ct):
    ct.write_file("/etc/pip.conf", PIP_CONF + "only-binary = :all:\n")
    try:
        made = ct.run("mksite wsgi slow --app tiny:app --from /root/tiny --yes", timeout=600)
    finally:
        ct.write_file("/etc/pip.conf", PIP_CONF)
    assert "installing with Debian's pip: pip.conf sets only-binary, which uv does not read" \
        in made.stderr, made.stderr
    installer = ct.run(f"cat /srv/pws/slow/current/venv/lib/{container.PYTHON_DIR}/site-packages/"
                       "gunicorn-*.dist-info/INSTALLER").stdout.strip()
    assert installer == "pip"
    assert container.http(ct, "http://127.0.0.1/", host="slow.localhost")[0] == 200


if container.PYTHON < (3, 12):  # Debian 12: what Django 6 and requires-python >= 3.12 get
    NEEDS = ("(/usr/bin/python3)", "pin versions that run on Python 3.11 (Django: django==5.2.19)",
             "or serve the site from Debian 13 (Python 3.13)")

    def test_django_6_on_python_3_11_is_one_clear_message(ct):
        ct.write_file("/root/dj6/requirements.txt", "django==6.1.3\n")
        ct.write_file("/root/dj6/tiny.py", TINY)
        before = footprint(ct)
        proc = ct.run("mksite wsgi djsix --app tiny:app --from /root/dj6 --yes", check=False,
                      timeout=600)
        assert_one_clear_error(proc, "django needs Python >=3.12; this system has Python 3.11")
        for part in NEEDS:
            assert part in proc.stderr, proc.stderr
        assert "No solution found" not in proc.stderr and "╰─▶" not in proc.stderr
        assert footprint(ct) == before

    def test_a_project_requiring_python_3_12_is_one_clear_message(ct):
        ct.write_file("/root/new312/pyproject.toml",
                      '[build-system]\nrequires = ["setuptools"]\n'
                      'build-backend = "setuptools.build_meta"\n\n'
                      '[project]\nname = "newsite"\nversion = "1.0"\n'
                      'requires-python = ">=3.12"\n')
        ct.write_file("/root/new312/tiny.py", TINY)
        before = footprint(ct)
        proc = ct.run("mksite wsgi newsite --app tiny:app --from /root/new312 --yes",
                      check=False, timeout=600)
        assert_one_clear_error(proc, "newsite needs Python >=3.12; this system has Python 3.11")
        for part in NEEDS:
            assert part in proc.stderr, proc.stderr
        assert footprint(ct) == before
