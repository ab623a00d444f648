"""A new system Python under live sites (docs/architecture.md, "Suites"): the python3 dpkg
trigger rebuilds each site whose venv is for another Python, through the deploy gate, under
load; a site whose rebuild fails keeps its old release serving and raises an alert.

The Debian 12 -> 13 upgrade itself is not run here (it needs a trixie mirror inside the
container). What stands in for it is the one thing it changes for pws: the live release's venv
is a copy whose pyvenv.cfg names another Python (3.10), linked as the live release's venv. The
trigger is activated as python3-minimal's unpack does (dpkg-trigger on /usr/bin/python3) and
processed by dpkg itself, which runs pws's postinst `triggered`.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import site_helpers as sh

HERE = Path(__file__).resolve().parent
HOST = "py.example.org"
APP = '''
import time
time.sleep(1)  # a 1 s import: the gate's wait is real
def app(environ, start_response):
    data = b"python-site"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
'''


def live(ct, name: str = "py") -> dict:
    rid = ct.run(f"readlink /srv/pws/{name}/current").stdout.strip().rsplit("/", 1)[-1]
    meta = json.loads(ct.run(f"cat /srv/pws/{name}/releases/{rid}/release.json").stdout)
    return meta


def make_venv_of_another_python(ct, name: str = "py") -> str:
    """The live release's venv replaced by a copy naming Python 3.10 (a venv an earlier Debian
    made); the copy keeps serving, as the old interpreter would until it is removed."""
    meta = live(ct, name)
    home = f"/srv/pws/{name}"
    old = f"{home}/{meta['venv']}"
    ct.run(f"cp -a {old} {home}/venvs/py310 && "
           f"sed -i -E 's/^(version(_info)? *= *)3\\.[0-9]+/\\13.10/' {home}/venvs/py310/pyvenv.cfg")
    assert "3.10" in ct.run(f"grep -E '^version' {home}/venvs/py310/pyvenv.cfg").stdout
    rdir = f"{home}/releases/{meta['id']}"
    ct.run(f"ln -sfn ../../venvs/py310 {rdir}/venv && python3 - <<'EOF'\n"
           f"import json, pathlib\n"
           f"p = pathlib.Path('{rdir}/release.json')\n"
           f"m = json.loads(p.read_text()); m['venv'] = 'venvs/py310'\n"
           f"p.write_text(json.dumps(m))\nEOF")
    return meta["id"]


def fire_python3_trigger(ct):
    """What unpacking python3-minimal (it ships /usr/bin/python3) does to pws: dpkg runs its
    postinst `triggered`."""
    return ct.run("dpkg-trigger --no-await /usr/bin/python3 && dpkg --triggers-only --pending",
                  timeout=900)


@pytest.fixture(scope="module")
def py(ct):
    ct.copy_in(HERE / "loadclient.py", "/root/loadclient.py")
    ct.write_file("/root/py/pyapp.py", APP)
    ct.run(f"mksite wsgi py --app pyapp:app --from /root/py --domain {HOST} --yes", timeout=600)
    return ct


def test_the_trigger_leaves_sites_on_the_system_python_alone(py):
    ct = py
    before = live(ct)["id"]
    out = fire_python3_trigger(ct)
    assert "rebuilding" not in out.stdout + out.stderr, out.stdout + out.stderr
    assert live(ct)["id"] == before
    assert "nothing to rebuild" in ct.run("pws rebuild py").stdout


def test_a_venv_of_another_python_is_rebuilt_by_the_trigger_under_load(py):
    ct = py
    system = ct.run("python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'").stdout.strip()
    old_id = make_venv_of_another_python(ct)
    figures, out = sh.under_load(ct, HOST, "python-site", 30,
                                lambda: fire_python3_trigger(ct))
    text = out.stdout + out.stderr
    assert f"the system's Python is now {system}" in text, text
    assert f"site py: serving on Python {system}" in text, text
    assert figures["failed"] == 0 and figures["requests"] > 100, figures
    meta = live(ct)
    assert meta["id"] != old_id, meta
    assert meta["source"].startswith(f"rebuild for Python {system} (venv for 3.10)"), meta
    cfg = ct.run(f"cat /srv/pws/py/{meta['venv']}/pyvenv.cfg").stdout
    assert f"= {system}." in cfg, cfg
    print(f"\n  python trigger rebuild under load: {figures['failed']} failed of "
          f"{figures['requests']}, max {figures['max_s'] * 1000:.0f} ms")
    assert "nothing to rebuild" in ct.run("pws rebuild --all").stdout


def test_a_rebuild_that_fails_keeps_the_old_release_serving_and_raises_an_alert(py):
    ct = py
    # The live code now asks for a package no index has: its venv cannot be rebuilt.
    ct.run("echo 'no-such-package-pws-test==1.0' > /srv/pws/py/current/app/requirements.txt")
    old_id = make_venv_of_another_python(ct)
    figures, out = sh.under_load(ct, HOST, "python-site", 20,
                                lambda: fire_python3_trigger(ct))
    text = out.stdout + out.stderr
    assert out.returncode == 0  # the apt run goes on
    assert "site py: its venv could not be rebuilt" in text, text
    assert "keeps serving" in text and "pws rebuild py" in text, text
    assert figures["failed"] == 0, figures
    assert live(ct)["id"] == old_id
    assert "site: py" in ct.run("pws alerts").stdout
    again = ct.run("pws rebuild py", check=False)
    assert again.returncode == 1 and "could not be rebuilt: py" in again.stdout + again.stderr
