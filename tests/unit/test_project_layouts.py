"""Issue 15, detection on temp trees: a Django project's production settings (a settings
package, production.py beside settings.py, a .env naming the module), crafted env files,
the app's own error and the fix pws names, release command lines."""
import argparse
from pathlib import Path

import pytest

from pws import apperror, validate
from pws.errors import InvalidInput
from pws_formulae import django as dj

MANAGE = '''import os, sys
def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{settings}")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
'''
# What `wagtail start mysite` makes: settings/{base,dev,production}.py, dev the default.
SETTINGS_PACKAGE = {"manage.py": MANAGE.format(settings="mysite.settings.dev"),
                    "mysite/__init__.py": "", "mysite/settings/__init__.py": "",
                    "mysite/settings/base.py": "DEBUG = False\n",
                    "mysite/settings/dev.py": "from .base import *\nDEBUG = True\n",
                    "mysite/settings/production.py": "from .base import *\n"}


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def settings(src: Path, hint=None) -> str:
    found = dj.FORMULA.detect(src, argparse.Namespace(settings=hint, app=None))
    return found["options"]["settings"]


def test_a_settings_package_serves_production_not_the_dev_default(tmp_path):
    write(tmp_path, SETTINGS_PACKAGE)
    assert settings(tmp_path) == "mysite.settings.production"


def test_prod_is_a_production_name_too(tmp_path):
    files = {k.replace("production", "prod"): v for k, v in SETTINGS_PACKAGE.items()}
    write(tmp_path, files)
    assert settings(tmp_path) == "mysite.settings.prod"


def test_production_py_beside_settings_py(tmp_path):
    write(tmp_path, {"manage.py": MANAGE.format(settings="shop.settings"), "shop/__init__.py": "",
                     "shop/settings.py": "", "shop/production.py": "from .settings import *\n"})
    assert settings(tmp_path) == "shop.production"


def test_the_settings_flag_chooses_over_production(tmp_path):
    write(tmp_path, SETTINGS_PACKAGE)
    assert settings(tmp_path, "mysite.settings.dev") == "mysite.settings.dev"


def test_an_env_file_names_the_module(tmp_path):
    write(tmp_path, {**SETTINGS_PACKAGE, "mysite/settings/staging.py": "",
                     ".env": "# deploy\nexport DJANGO_SETTINGS_MODULE='mysite.settings.staging'\n"})
    assert settings(tmp_path) == "mysite.settings.staging"


def test_the_flag_chooses_over_the_env_file(tmp_path):
    write(tmp_path, {**SETTINGS_PACKAGE, ".env": "DJANGO_SETTINGS_MODULE=mysite.settings.dev\n"})
    assert settings(tmp_path, "mysite.settings.production") == "mysite.settings.production"


@pytest.mark.parametrize("value", ["os", "mysite.settings.production;import os",
                                   "../../etc/passwd", "mysite.settings.production\\nx",
                                   "__import__('os').system('id')", "mysite.settings.gone",
                                   "ｍysite.settings.production"])
def test_a_crafted_module_in_an_env_file_is_refused(tmp_path, value):
    write(tmp_path, {**SETTINGS_PACKAGE, ".env": f"DJANGO_SETTINGS_MODULE={value}\n"})
    with pytest.raises(InvalidInput, match="not a settings module of the project") as exc:
        settings(tmp_path)
    assert "--settings" in exc.value.fix


def test_an_env_file_that_is_a_link_is_not_read(tmp_path):
    outside = write(tmp_path / "outside", {"env": "DJANGO_SETTINGS_MODULE=mysite.settings.dev\n"})
    write(tmp_path / "p", SETTINGS_PACKAGE)
    (tmp_path / "p" / ".env").symlink_to(outside / "env")
    assert settings(tmp_path / "p") == "mysite.settings.production"


def test_two_production_modules_take_the_one_beside_the_default(tmp_path):
    write(tmp_path, {**SETTINGS_PACKAGE, "other/__init__.py": "", "other/settings/__init__.py": "",
                     "other/settings/production.py": ""})
    assert settings(tmp_path) == "mysite.settings.production"


# --- the app's error and the fix
TRACEBACK = """[2026-11-23 10:00:00 +0000] [12] [INFO] Booting worker with pid: 12
Traceback (most recent call last):
  File "/srv/pws/flaskr/releases/1/app/flaskr/__init__.py", line 9, in create_app
    os.makedirs(os.path.join(app.root_path, "cache"))
  File "<frozen os>", line 225, in makedirs
OSError: [Errno 30] Read-only file system: '/srv/pws/flaskr/releases/1/app/flaskr/cache'
[2026-11-23 10:00:00 +0000] [12] [INFO] Worker exiting (pid: 12)
[2026-11-23 10:00:01 +0000] [9] [ERROR] Reason: Worker failed to boot.""".splitlines()


def test_the_app_error_ends_with_its_exception():
    lines = apperror.app_error(TRACEBACK)
    assert lines[-1].startswith("OSError: [Errno 30]") and lines[0].startswith("[2026")


def test_a_write_into_the_code_names_data_and_the_instance_folder():
    fix = apperror.fix_for(TRACEBACK, "flaskr")
    assert "writes into its code directory" in fix and "/srv/pws/flaskr/data" in fix
    assert "instance folder" in fix


def test_a_denied_write_under_data_is_not_called_a_code_write():
    line = "PermissionError: [Errno 13] Permission denied: '/srv/pws/x/data/db.sqlite3'"
    assert apperror.fix_for([line], "x") == ""


def test_a_missing_module_names_the_requirements():
    fix = apperror.fix_for(["ModuleNotFoundError: No module named 'requests.adapters'"], "x")
    assert "'requests'" in fix and "requirements" in fix


# --- release commands
def test_release_command_lines():
    assert validate.command("flask --app flaskr init-db", "c") == ["flask", "--app", "flaskr", "init-db"]
    assert validate.command("python -m app.cli 'a b'", "c") == ["python", "-m", "app.cli", "a b"]


@pytest.mark.parametrize("line", ["", "   ", "--help", "/bin/sh -c id", "../x", "flask 'open",
                                  "flask init-db\nid", "flask\x1b[2J", "x" * 301])
def test_bad_release_command_lines_are_refused(line):
    with pytest.raises(InvalidInput, match="not a command line pws runs"):
        validate.command(line, "release_commands")


def test_too_many_commands():
    with pytest.raises(InvalidInput, match="too many"):
        validate.commands(["flask x"] * 21, "setup_commands")


# --- Flask layouts
def test_a_flask_src_layout_is_found_when_the_project_is_installed(tmp_path):
    from pws_formulae import flask
    write(tmp_path, {"pyproject.toml": "[project]\nname = 'x'\n",
                     "src/notes/__init__.py": "from flask import Flask\ndef create_app():\n    pass\n"})
    assert flask.find_app(tmp_path) == "notes:create_app()"


def test_a_blueprint_app_factory_package(tmp_path):
    from pws_formulae import flask
    write(tmp_path, {"shop/__init__.py": "from flask import Flask\nfrom .views import bp\n"
                                         "def create_app():\n    pass\n",
                     "shop/views.py": "from flask import Blueprint\nbp = Blueprint('v', __name__)\n"})
    assert flask.find_app(tmp_path) == "shop:create_app()"


def test_an_instance_dir_is_not_taken_for_the_app(tmp_path):
    from pws_formulae import flask
    write(tmp_path, {"instance/config.py": "X = 1\n", "flaskr/__init__.py":
                     "from flask import Flask\ndef create_app():\n    pass\n"})
    assert flask.find_app(tmp_path) == "flaskr:create_app()"


def test_gunicorn_frames_are_left_out():
    lines = ["Traceback (most recent call last):",
             '  File "/srv/pws/x/venvs/1/lib/python3.11/site-packages/gunicorn/util.py", line 4, in f',
             "    app = app(*args, **kwargs)", "          ^^^^^^^^^",
             '  File "/srv/pws/x/releases/1/app/factories.py", line 6, in raises',
             '    raise RuntimeError("no")', "RuntimeError: no"]
    assert apperror.app_error(lines) == [lines[0], *lines[4:]]
