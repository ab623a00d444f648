"""Which Python a venv was made for (pws.python_change): real venvs' pyvenv.cfg, uv's form,
and what a site user could put there instead."""
from __future__ import annotations

import os
import subprocess
import sys

from pws import python_change


def test_a_venv_made_by_the_system_python_names_it(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    assert python_change.venv_python(venv) == python_change.system_python()


def test_uv_s_version_info_line_is_read(tmp_path):
    (tmp_path / "pyvenv.cfg").write_text("home = /usr/bin\nimplementation = CPython\n"
                                         "uv = 0.9.0\nversion_info = 3.11.2\n")
    assert python_change.venv_python(tmp_path) == "3.11"


def test_a_missing_or_linked_pyvenv_cfg_names_no_python(tmp_path):
    assert python_change.venv_python(tmp_path) is None
    target = tmp_path / "elsewhere.cfg"
    target.write_text("version = 3.13.5\n")
    os.symlink(target, tmp_path / "pyvenv.cfg")  # a site user's link: never followed
    assert python_change.venv_python(tmp_path) is None


def test_the_system_python_is_this_interpreter_s_major_minor():
    assert python_change.system_python() == "%d.%d" % sys.version_info[:2]
