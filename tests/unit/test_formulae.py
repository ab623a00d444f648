import argparse

import pytest

from pws import formulae
from pws.errors import InvalidInput, PwsError
from pws.paths import Paths, SOURCE_TREE


def test_core_wsgi_formula_is_always_there(tmp_path):
    assert formulae.load("wsgi", Paths(root=tmp_path, share=tmp_path)).name == "wsgi"


def test_missing_framework_package_names_the_package(tmp_path):
    with pytest.raises(PwsError, match="apt install pws-django"):
        formulae.load("django", Paths(root=tmp_path, share=tmp_path))


def test_unknown_formula(tmp_path):
    with pytest.raises(InvalidInput, match="use one of: wsgi"):
        formulae.load("rails", Paths(root=tmp_path, share=tmp_path))


def test_formula_modules_load_from_the_share_dir(tmp_path):
    (tmp_path / "formulae").mkdir()
    (tmp_path / "formulae" / "demo.py").write_text(
        "from pws.formulae import Formula\nclass Demo(Formula):\n    name = 'demo'\nFORMULA = Demo()\n")
    (tmp_path / "templates").mkdir()
    assert formulae.load("demo", Paths(root=tmp_path, share=tmp_path)).name == "demo"


def test_wsgi_detects_common_entry_points(tmp_path):
    (tmp_path / "wsgi.py").write_text("application = object()\n")
    wsgi = formulae.load("wsgi", Paths(share=SOURCE_TREE))
    assert wsgi.detect(tmp_path, argparse.Namespace(app=None)) == {"app": "wsgi:application"}


def test_wsgi_without_an_entry_point_says_what_it_looked_for(tmp_path):
    wsgi = formulae.load("wsgi", Paths(share=SOURCE_TREE))
    with pytest.raises(InvalidInput, match="looked for wsgi.py"):
        wsgi.detect(tmp_path, argparse.Namespace(app=None))
