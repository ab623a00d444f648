"""Django project detection on temp trees: manage.py, settings (read with ast), WSGI module."""
import argparse
from pathlib import Path

import pytest

from pws.errors import InvalidInput
from pws_formulae import django as dj

SAMPLE = Path(__file__).resolve().parents[1] / "system" / "projects" / "django_shop"
MANAGE = '''import os, sys
def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{settings}")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
'''


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def detect(src: Path, settings=None) -> dict:
    return dj.FORMULA.detect(src, argparse.Namespace(settings=settings, app=None))


def test_the_sample_project(tmp_path):
    assert detect(SAMPLE) == {"options": {"project_dir": ".", "settings": "shop.settings"},
                              "app": "shop.wsgi:application"}


def test_manage_py_in_a_subdirectory(tmp_path):
    write(tmp_path, {"src/manage.py": MANAGE.format(settings="blog.settings"),
                     "src/blog/__init__.py": "", "src/blog/settings.py": "DEBUG = True\n"})
    found = detect(tmp_path)
    assert found["options"] == {"project_dir": "src", "settings": "blog.settings"}
    assert found["app"] == dj.GENERIC_WSGI  # no blog/wsgi.py


def test_not_a_django_project_says_what_was_looked_for(tmp_path):
    write(tmp_path, {"app.py": "app = object()\n", "venv/lib/manage.py": "import django\n"})
    with pytest.raises(InvalidInput, match="looked for a manage.py that uses Django"):
        detect(tmp_path)


def test_a_manage_py_of_something_else_is_not_django(tmp_path):
    write(tmp_path, {"manage.py": "print('flask-script')\n"})
    with pytest.raises(InvalidInput, match="not a Django project"):
        detect(tmp_path)


def test_two_projects_are_named(tmp_path):
    write(tmp_path, {"a/manage.py": MANAGE.format(settings="a.settings"),
                     "b/manage.py": MANAGE.format(settings="b.settings")})
    with pytest.raises(InvalidInput, match="several Django projects: a/manage.py, b/manage.py"):
        detect(tmp_path)


def test_settings_package_named_by_manage_py(tmp_path):
    write(tmp_path, {"manage.py": MANAGE.format(settings="site.settings.prod"),
                     "site/__init__.py": "", "site/settings/__init__.py": "",
                     "site/settings/base.py": "", "site/settings/prod.py": "from .base import *\n"})
    assert detect(tmp_path)["options"]["settings"] == "site.settings.prod"


TWO_SETTINGS = {"manage.py": "import os, django\nos.environ['X'] = '1'\n",
                "site/__init__.py": "", "site/settings/__init__.py": "",
                "site/settings/dev.py": "", "site/settings/staging.py": ""}


def test_two_settings_modules_and_no_hint(tmp_path):
    write(tmp_path, TWO_SETTINGS)
    with pytest.raises(InvalidInput) as exc:
        detect(tmp_path)
    assert "manage.py names no settings module" in str(exc.value)
    assert "site.settings.dev, site.settings.staging" in str(exc.value)
    assert "--settings" in str(exc.value)


def test_the_settings_flag_resolves_it(tmp_path):
    write(tmp_path, TWO_SETTINGS)
    assert detect(tmp_path, settings="site.settings.staging")["options"]["settings"] == "site.settings.staging"


def test_a_settings_flag_naming_nothing_is_refused(tmp_path):
    write(tmp_path, TWO_SETTINGS)
    with pytest.raises(InvalidInput, match="--settings site.settings.qa: no such module"):
        detect(tmp_path, settings="site.settings.qa")
    with pytest.raises(InvalidInput, match="no such module"):
        detect(tmp_path, settings="../etc/passwd")


def test_manage_py_naming_a_missing_module_falls_back_to_the_one_found(tmp_path):
    write(tmp_path, {"manage.py": MANAGE.format(settings="gone.settings"),
                     "real/__init__.py": "", "real/settings.py": ""})
    assert detect(tmp_path)["options"]["settings"] == "real.settings"


def test_settings_default_reads_setdefault_and_assignment(tmp_path):
    a = write(tmp_path, {"a.py": MANAGE.format(settings="x.settings")}) / "a.py"
    b = write(tmp_path, {"b.py": "import os\nos.environ['DJANGO_SETTINGS_MODULE'] = 'y.settings'\n"}) / "b.py"
    c = write(tmp_path, {"c.py": "this is not python(\n"}) / "c.py"
    assert dj.settings_default(a) == "x.settings" and not dj.forces_settings(a)
    assert dj.settings_default(b) == "y.settings" and dj.forces_settings(b)
    assert dj.settings_default(c) is None


def test_a_wsgi_module_that_forces_its_settings_is_not_used(tmp_path):
    write(tmp_path, {"manage.py": MANAGE.format(settings="p.settings"), "p/__init__.py": "",
                     "p/settings.py": "WSGI_APPLICATION = 'p.wsgi.application'\n",
                     "p/wsgi.py": "import os\nos.environ['DJANGO_SETTINGS_MODULE'] = 'p.settings'\n"
                                  "application = None\n"})
    assert detect(tmp_path)["app"] == dj.GENERIC_WSGI


def test_wsgi_application_setting_is_followed(tmp_path):
    write(tmp_path, {"manage.py": MANAGE.format(settings="p.settings"), "p/__init__.py": "",
                     "p/settings.py": "WSGI_APPLICATION = 'p.serve.app'\n",
                     "p/serve.py": "from django.core.wsgi import get_wsgi_application\n"
                                   "app = get_wsgi_application()\n"})
    assert detect(tmp_path)["app"] == "p.serve:app"


def test_summarize_a_failed_migration():
    output = ("Operations to perform:\n  Apply all migrations: notes\nRunning migrations:\n"
              "  Applying notes.0001_initial... OK\n"
              "  Applying notes.0002_broken...Traceback (most recent call last):\n"
              '  File "x.py", line 1, in <module>\n'
              "django.db.utils.OperationalError: no such table: nothere\n")
    assert dj.summarize(output) == ("while applying notes.0002_broken: "
                                    "django.db.utils.OperationalError: no such table: nothere")


def test_summarize_system_check_errors():
    output = ("Traceback ...\nSystemCheckError: System check identified some issues:\n\nERRORS:\n"
              "notes.Note: (models.E001) bad thing.\n\nWARNINGS:\n?: (security.W004) x\n\n"
              "System check identified 2 issues (0 silenced).\n")
    assert dj.summarize(output) == "notes.Note: (models.E001) bad thing."


def test_summarize_names_the_exception_not_the_sql_caret():
    output = ("  Applying notes.0002_broken...Traceback (most recent call last):\n"
              'psycopg.errors.UndefinedTable: relation "no_such_table" does not exist\n'
              "LINE 1: SELECT * FROM no_such_table\n                      ^\n\n"
              "The above exception was the direct cause of the following exception:\n\n"
              'django.db.utils.ProgrammingError: relation "no_such_table" does not exist\n'
              "LINE 1: SELECT * FROM no_such_table\n                      ^\n")
    assert dj.summarize(output) == ('while applying notes.0002_broken: django.db.utils.'
                                    'ProgrammingError: relation "no_such_table" does not exist')


def test_summarize_a_failed_import():
    output = ('Traceback (most recent call last):\n  File "<string>", line 5, in <module>\n'
              "ModuleNotFoundError: No module named 'shop.missing'\n")
    assert dj.summarize(output) == "ModuleNotFoundError: No module named 'shop.missing'"


def test_summarize_improperly_configured():
    output = "Traceback ...\ndjango.core.exceptions.ImproperlyConfigured: SECRET_KEY is empty.\n"
    assert dj.summarize(output) == "django.core.exceptions.ImproperlyConfigured: SECRET_KEY is empty."


def test_uses_sessions(tmp_path):
    assert dj.uses_sessions(SAMPLE)
    write(tmp_path, {"manage.py": MANAGE.format(settings="api.settings"),
                     "api/settings.py": "INSTALLED_APPS = ['django.contrib.contenttypes']\n"})
    assert not dj.uses_sessions(tmp_path)
