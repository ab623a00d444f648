"""What pws makes of uv's and pip's answers, and of the admin's pip.conf (no network, no uv run:
the texts are what uv 0.13 and Debian 12's pip 23 print)."""
import sys

from pws import venv

HAVE = ".".join(map(str, sys.version_info[:3]))

UV_NEEDS_PYTHON = """error: No solution found when resolving dependencies
  cause: Because all versions of needs312 require Python >=3.12 and you require needs312, we can conclude that your requirements are unsatisfiable.
"""
UV_CURRENT_PYTHON = """  × No solution found when resolving dependencies:
  ╰─▶ Because the current Python version (3.11.2) does not satisfy Python>=3.12 and django==6.0 depends on Python>=3.12, we can conclude that django==6.0 cannot be used.
      And because you require django==6.0, we can conclude that your requirements are unsatisfiable.
"""
UV_UNKNOWN = """error: No solution found when resolving dependencies
  cause: Because nonexist was not found in the provided package locations and you require nonexist, we can conclude that your requirements are unsatisfiable.
"""
PIP_IGNORED = """ERROR: Ignored the following versions that require a different python version: 6.0 Requires-Python >=3.12; 6.0.1 Requires-Python >=3.12
ERROR: Could not find a version that satisfies the requirement django>=6 (from versions: 5.2.19)
ERROR: No matching distribution found for django>=6
"""
PIP_PACKAGE = "ERROR: Package 'needs312' requires a different Python: 3.11.2 not in '>=3.12'\n"
PIP_NOT_FOUND = """ERROR: Could not find a version that satisfies the requirement nonexist (from versions: none)
ERROR: No matching distribution found for nonexist
"""


def test_a_newer_python_is_named_with_the_one_this_system_has():
    for output, name in ((UV_NEEDS_PYTHON, "needs312"), (UV_CURRENT_PYTHON, "django"),
                         (PIP_IGNORED, "django"), (PIP_PACKAGE, "needs312")):
        line = venv.unsatisfiable(output)
        assert line.startswith(f"{name} needs Python >=3.12; this system has Python {HAVE} "
                               f"({venv.SYSTEM_PYTHON})"), (output, line)
        assert "\n" not in line


def test_other_unmet_requirements_are_one_line_and_other_failures_none():
    line = venv.unsatisfiable(UV_UNKNOWN)
    assert line.startswith("The site's requirements cannot be met: Because nonexist was not found")
    assert "\n" not in line
    assert "no version of nonexist" in venv.unsatisfiable(PIP_NOT_FOUND)
    assert venv.unsatisfiable("error: Failed to build `x @ file:///p`\n  Caused by: setup.py") == ""


def test_pip_conf_becomes_uv_arguments(tmp_path):
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://pypi.internal/simple\ncert = /etc/ca.pem\n"
                    "timeout = 60\n[install]\nfind-links = /srv/wheels\n  /srv/more\nno-index = true\n"
                    "trusted-host = pypi.internal\n")
    args, env, reason = venv.pip_config([str(conf), str(tmp_path / "absent.conf")])
    assert reason == ""
    assert args == ["--index-url", "https://pypi.internal/simple", "--find-links", "/srv/wheels",
                    "--find-links", "/srv/more", "--no-index", "--allow-insecure-host",
                    "pypi.internal"]
    assert env == {"SSL_CERT_FILE": "/etc/ca.pem"}


def test_a_pip_conf_setting_uv_cannot_honour_means_pip(tmp_path):
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nonly-binary = :all:\n")
    assert venv.pip_config([str(conf)]) == ([], {}, "pip.conf sets only-binary, which uv does not read")
    conf.write_text("not an ini file")
    assert venv.pip_config([str(conf)])[2].startswith("pip.conf does not parse")


def test_the_django_pin_follows_the_python_and_the_fix_names_both(monkeypatch):
    from pws import pins
    assert pins.django_for((3, 11)) == pins.DJANGO_5 == "django==5.2.19"
    assert pins.django_for((3, 12)) == pins.django_for((3, 13, 5)) == pins.DJANGO_6
    assert pins.DJANGO == pins.django_for(sys.version_info)
    monkeypatch.setattr(sys, "version_info", (3, 11, 2, "final", 0))
    fix = venv.newer_python_fix()
    assert fix.startswith("pin versions that run on Python 3.11 (Django: django==5.2.19), "
                          "or serve the site from Debian 13 (Python 3.13)"), fix
    monkeypatch.setattr(sys, "version_info", (3, 13, 5, "final", 0))
    assert "Python 3.13 (Django: django==6.1.3), or serve the site from a Debian release " \
           "with that Python" in venv.newer_python_fix()
