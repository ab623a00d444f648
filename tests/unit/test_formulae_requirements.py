"""Whether a project names its framework (then pws does not add its own pin)."""
import pytest

from pws.formulae import project_requires


@pytest.mark.parametrize("filename, text, expected", [
    ("requirements.txt", "Django==5.2\n", True),
    ("requirements.txt", "django>=4.2,<6\n", True),
    ("requirements.txt", "django\n", True),
    ("requirements.txt", "django-environ==0.11\n", False),
    ("requirements.txt", "djangorestframework\n", False),
    ("pyproject.toml", '[project]\ndependencies = ["Django>=5", "psycopg"]\n', True),
    ("pyproject.toml", '[project]\ndependencies = [\n  "django[argon2]",\n]\n', True),
    ("pyproject.toml", '[project]\ndependencies = ["django_extensions"]\n', False),
])
def test_project_requires(tmp_path, filename, text, expected):
    (tmp_path / filename).write_text(text)
    assert project_requires(tmp_path, "django") is expected


def test_no_requirement_files(tmp_path):
    assert not project_requires(tmp_path, "flask")
