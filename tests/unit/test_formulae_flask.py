"""Flask entry-point detection on temp trees, read with ast (nothing is imported)."""
import argparse
from pathlib import Path

import pytest

from pws.errors import InvalidInput
from pws_formulae import flask as fl

SAMPLE = Path(__file__).resolve().parents[1] / "system" / "projects" / "flask_api"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def detect(src: Path, app=None) -> dict:
    return fl.FORMULA.detect(src, argparse.Namespace(app=app))


def test_the_sample_project():
    assert detect(SAMPLE) == {"app": "wsgi:app", "static": {"/static/": "api/static"}}


@pytest.mark.parametrize("files, expected", [
    ({"app.py": "from flask import Flask\napp = Flask(__name__)\n"}, "app:app"),
    ({"app.py": "from flask import Flask\napplication = Flask(__name__)\n"}, "app:application"),
    ({"wsgi.py": "from flask import Flask\ndef create_app():\n    return Flask(__name__)\n"},
     "wsgi:create_app()"),
    ({"main.py": "import flask\ndef make_app():\n    return flask.Flask(__name__)\n"},
     "main:make_app()"),
    # The package's factory, found in the package when there is no top-level module.
    ({"shop/__init__.py": "from flask import Flask\ndef create_app():\n    return Flask(__name__)\n"},
     "shop:create_app()"),
    # An app object is preferred to a factory in the same module (as `flask run` does).
    ({"wsgi.py": "from api import create_app\napp = create_app()\n",
      "api/__init__.py": "from flask import Flask\ndef create_app(): ...\n"}, "wsgi:app"),
    # wsgi.py is looked at before app.py.
    ({"wsgi.py": "from app import app as application\n",
      "app.py": "from flask import Flask\napp = Flask(__name__)\n"}, "wsgi:application"),
])
def test_entry_points(tmp_path, files, expected):
    assert detect(write(tmp_path, files))["app"] == expected


def test_flask_named_only_in_requirements_counts(tmp_path):
    write(tmp_path, {"requirements.txt": "Flask>=3\n", "app.py": "from web import make\napp = make()\n"})
    assert detect(tmp_path)["app"] == "app:app"


def test_a_wsgi_app_without_flask_is_not_a_flask_project(tmp_path):
    write(tmp_path, {"app.py": "def app(environ, start_response): ...\n",
                     "requirements.txt": "flask-unrelated-name==1\n"})
    with pytest.raises(InvalidInput) as exc:
        detect(tmp_path)
    assert "No Flask app found" in str(exc.value)
    assert "wsgi.py, app.py, application.py, main.py" in str(exc.value)
    assert "--app" in str(exc.value)


def test_flask_without_an_entry_point(tmp_path):
    write(tmp_path, {"app.py": "from flask import Flask\nweb = Flask(__name__)\n"})
    with pytest.raises(InvalidInput, match="looked for app, application, create_app"):
        detect(tmp_path)


def test_a_broken_module_is_skipped_not_fatal(tmp_path):
    write(tmp_path, {"wsgi.py": "def (:\n", "app.py": "from flask import Flask\napp = Flask('x')\n"})
    assert detect(tmp_path)["app"] == "app:app"


def test_app_flag_skips_detection_but_static_is_found(tmp_path):
    write(tmp_path, {"static/site.css": ""})
    assert detect(tmp_path, app="srv:make()") == {"app": "srv:make()",
                                                  "static": {"/static/": "static"}}


def test_no_static_folder(tmp_path):
    write(tmp_path, {"app.py": "from flask import Flask\napp = Flask(__name__)\n"})
    assert detect(tmp_path)["static"] == {}
