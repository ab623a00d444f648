import pytest

from pws import site as sitemod
from pws.errors import InvalidInput, SiteNotFound
from pws.paths import Paths
from pws.site import Site


def make(**kw):
    fields = dict(name="blog", formula="wsgi", app="hello:app", domains=["blog.example.org"])
    return Site(**{**fields, **kw})


def test_round_trip_through_toml(tmp_path):
    paths = Paths(root=tmp_path)
    site = make(static={"/static/": "static"}, requirements=["flask==3.0.0"])
    sitemod.save(paths, site)
    assert sitemod.load(paths, "blog") == site
    assert sitemod.names(paths) == ["blog"]
    assert paths.site_file("blog").read_text().startswith("# PWS site definition")


def test_a_hand_edited_bad_domain_is_refused_on_load(tmp_path):
    paths = Paths(root=tmp_path)
    sitemod.save(paths, make())
    text = paths.site_file("blog").read_text().replace("blog.example.org", "x.org; evil")
    paths.site_file("blog").write_text(text)
    with pytest.raises(InvalidInput, match="not a valid host name"):
        sitemod.load(paths, "blog")


def test_unknown_keys_are_a_clear_error(tmp_path):
    paths = Paths(root=tmp_path)
    sitemod.save(paths, make())
    paths.site_file("blog").write_text("colour = 'red'\n" + paths.site_file("blog").read_text())
    with pytest.raises(InvalidInput, match="not a valid site definition"):
        sitemod.load(paths, "blog")


def test_missing_site(tmp_path):
    with pytest.raises(SiteNotFound, match="pws list"):
        sitemod.load(Paths(root=tmp_path), "nope")


def test_site_needs_a_domain():
    with pytest.raises(InvalidInput, match="no domain"):
        make(domains=[]).check()
