"""Pyramid deployment-ini detection on temp trees."""
import argparse
from pathlib import Path

import pytest

from pws.errors import InvalidInput
from pws_formulae import pyramid as pyr

SAMPLE = Path(__file__).resolve().parents[1] / "system" / "projects" / "pyramid_wiki"


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def detect(src: Path) -> dict:
    return pyr.FORMULA.detect(src, argparse.Namespace(app=None))


def test_the_sample_project_uses_production_ini_not_development():
    assert detect(SAMPLE) == {"options": {"ini": "production.ini"}, "app": "pyramid.paster:get_app",
                              "static": {"/static/": "wiki/static"}}


def test_another_single_ini_with_app_main(tmp_path):
    write(tmp_path, {"site.ini": "[app:main]\nuse = call:site.app:main\n", "site/static/x.css": "",
                     "development.ini": "[app:main]\nuse = egg:site\n"})
    assert detect(tmp_path)["options"] == {"ini": "site.ini"}
    assert detect(tmp_path)["static"] == {"/static/": "site/static"}


def test_src_layout_static(tmp_path):
    write(tmp_path, {"production.ini": "[app:main]\nuse = egg:my-wiki\n", "src/my_wiki/static/a.css": ""})
    assert detect(tmp_path)["static"] == {"/static/": "src/my_wiki/static"}


def test_an_ini_without_app_main_is_not_enough(tmp_path):
    write(tmp_path, {"production.ini": "[server:main]\nuse = egg:waitress#main\n",
                     "development.ini": "[app:main]\nuse = egg:x\n"})
    with pytest.raises(InvalidInput) as exc:
        detect(tmp_path)
    assert "not a Pyramid project" in str(exc.value)
    assert "[app:main]" in str(exc.value) and "production.ini" in str(exc.value)


def test_a_broken_ini_is_not_a_project(tmp_path):
    write(tmp_path, {"production.ini": "no section header\n"})
    with pytest.raises(InvalidInput, match="not a Pyramid project"):
        detect(tmp_path)


def test_several_candidate_inis_are_named(tmp_path):
    write(tmp_path, {"a.ini": "[app:main]\nuse = egg:a\n", "b.ini": "[app:main]\nuse = egg:b\n"})
    with pytest.raises(InvalidInput, match="several ini files with an \\[app:main\\]: a.ini, b.ini"):
        detect(tmp_path)
