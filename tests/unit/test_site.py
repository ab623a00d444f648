import re
from dataclasses import asdict

import pytest
import tomli_w

from pws import site as sitemod
from pws.errors import InvalidInput, PwsError, SiteNotFound
from pws.defaults import site_defaults
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


# ---------------------------------------------------------------- every field validated on load
def hand_edit(tmp_path, line: str):
    """A site file as an admin (or an attacker) may edit it: LINE replaces its key's value."""
    paths = Paths(root=tmp_path)
    fields = asdict(make(static={"/static/": "static"}))
    fields.pop(line.split("=", 1)[0].strip(), None)
    paths.sites_dir.mkdir(parents=True)
    paths.site_file("blog").write_text(line + "\n" + tomli_w.dumps(fields))
    return paths


BAD_FILES = [
    ('name = "blog\\n"', "not allowed"),
    ('name = "other"', "names the site 'other'"),
    ('formula = "../../tmp/evil"', "not a formula name"),
    ('formula = "Wsgi"', "not a formula name"),
    ('app = "os:system(\'id\')"', "MODULE:CALLABLE"),
    ('app = "hello:app\\n"', "MODULE:CALLABLE"),
    ('domains = ["a\\n.example.org"]', "not a valid host name"),
    ('domains = ["x.org;"]', "not a valid host name"),
    ('domains = ["x.org { }"]', "not a valid host name"),
    ('domains = ["$host"]', "not a valid host name"),
    ('domains = ["ex ample.org"]', "not a valid host name"),
    ('domains = ["ex\u0430mple.org"]', "not a valid host name"),
    ('domains = ["a.org", "A.org."]', "more than once"),
    ('domains = []', "no domain"),
    ('domains = "blog.example.org"', "domains must be a list of strings, not str"),
    ('domains = [1]', "domains must be a list of strings"),
    ('requirements = ["--index-url=http://evil/"]', "not a plain package requirement"),
    ('requirements = ["-e /root/x"]', "not a plain package requirement"),
    ('requirements = ["x @ https://evil/x.whl"]', "not a plain package requirement"),
    ('requirements = ["-r/etc/shadow"]', "not a plain package requirement"),
    ('requirements = "flask"', "requirements must be a list of strings"),
    ('static = {"/a/" = 3}', "static must be a table of strings, not dict"),
    ('static = {"/a;}/" = "static"}', "not a plain path prefix"),
    ('static = {"/s/" = "static;} server { listen 81; location / { alias /etc/; } #"}',
     "not a plain path inside the project"),
    ('static = {"/s/" = "../../etc"}', "not a plain path inside the project"),
    ('static = {"/s/" = "/etc"}', "not a plain path inside the project"),
    ('aliases = {"/s/" = "static;} server { listen 81; location / { alias /etc/; } #"}',
     "not a plain path inside the project"),
    ('aliases = {"/s/" = "media\\n"}', "not a plain path inside the project"),
    ('aliases = {"/" = "media"}', "other than '/'"),
    ('aliases = {"/s/" = "."}', "not a plain path inside the project"),
    ('health_path = "/ ;"', "not a plain URL path"),
    ('health_path = "/\\r\\nHost: evil"', "not a plain URL path"),
    ('health_path = 3', "health_path must be a string"),
    ('workers = "2"', "workers must be a whole number, not str"),
    ('workers = true', "workers must be a whole number, not bool"),
    ('workers = 2.5', "workers must be a whole number"),
    ('workers = 0', "workers = 0 is not a whole number from 1 to 64"),
    ('timeout = 99999', "timeout = 99999"),
    ('health_timeout = 0', "health_timeout = 0"),
    ('idle = -1', "idle = -1"),
    ('database = "mysql"', "database 'mysql' is not known"),
    ('database = 1', "database must be a string"),
    ('source = "/root/x\\n\\u001b[31m"', "not a printable path"),
    ('source = ["x"]', "source must be a string"),
    ('options = {project_dir = "../../etc"}', "options.project_dir"),
    ('options = {settings = "x\'\\nimport os"}', "options.settings"),
    ('options = {ini = "../../etc/x.ini"}', "options.ini"),
    ('options = {ini = "x.conf"}', "options.ini"),
    ('options = {colour = "red"}', "Unknown option"),
    ('options = {settings = 1}', "options must be a table of strings"),
    ('options = "x"', "options must be a table of strings"),
    ('colour = "red"', "unknown key(s) 'colour'"),
]


@pytest.mark.parametrize("line,message", BAD_FILES, ids=[line for line, _ in BAD_FILES])
def test_every_field_of_a_hand_edited_file_is_validated(tmp_path, line, message):
    paths = hand_edit(tmp_path, line)
    with pytest.raises(InvalidInput, match=re.escape(message)) as err:
        sitemod.load(paths, "blog")
    assert "is not a valid site definition" in err.value.problem
    assert err.value.fix


def test_missing_required_keys_are_named(tmp_path):
    paths = Paths(root=tmp_path)
    paths.site_file("blog").parent.mkdir(parents=True)
    paths.site_file("blog").write_text('name = "blog"\nformula = "wsgi"\n')
    with pytest.raises(InvalidInput, match="missing key.*app, domains"):
        sitemod.load(paths, "blog")


@pytest.mark.parametrize("text", ["[[[[", "x = ", "\x00", "[" * 5000 + "]" * 5000, "a = [" * 3000])
def test_garbage_files_are_one_clear_error(tmp_path, text):
    paths = Paths(root=tmp_path)
    paths.site_file("blog").parent.mkdir(parents=True)
    paths.site_file("blog").write_text(text)
    with pytest.raises(InvalidInput, match="not a valid site definition"):
        sitemod.load(paths, "blog")


def test_non_utf8_and_huge_files_are_refused(tmp_path):
    paths = Paths(root=tmp_path)
    paths.site_file("blog").parent.mkdir(parents=True)
    paths.site_file("blog").write_bytes(b"name = \"\xff\"\n")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        sitemod.load(paths, "blog")
    paths.site_file("blog").write_text("# x\n" * 100_000)
    with pytest.raises(InvalidInput, match="larger than"):
        sitemod.load(paths, "blog")


def test_a_site_file_that_is_a_symlink_is_not_followed(tmp_path):
    paths = Paths(root=tmp_path)
    sitemod.save(paths, make())
    real = tmp_path / "elsewhere.toml"
    paths.site_file("blog").rename(real)
    paths.site_file("blog").symlink_to(real)
    with pytest.raises(PwsError, match="symlink"):
        sitemod.load(paths, "blog")


def test_loaded_values_are_stored_normalised(tmp_path):
    paths = hand_edit(tmp_path, 'domains = ["Blog.Example.ORG.", "www.example.org"]')
    text = paths.site_file("blog").read_text().replace('"/static/" = "static"', '"static" = "static/"')
    paths.site_file("blog").write_text('aliases = {"media" = "media/"}\n' + text.replace("[aliases]", ""))
    site = sitemod.load(paths, "blog")
    assert site.domains == ["blog.example.org", "www.example.org"]
    assert site.static == {"/static/": "static"}
    assert site.aliases == {"/media/": "media"}


def test_check_refuses_wrong_types_set_in_code():
    for kw in (dict(workers="2"), dict(domains="blog.example.org"), dict(static={"/a/": 3}),
               dict(timeout=None), dict(requirements=[b"flask"]), dict(idle=False)):
        with pytest.raises(InvalidInput, match="must be"):
            make(**kw).check()


def test_formula_options_round_trip():
    site = make(formula="django", options={"project_dir": ".", "settings": "mysite.settings"})
    assert Site.from_toml(site.to_toml(), "x") == site


# ---------------------------------------------------------------- one broken file hides nothing
def test_load_valid_keeps_the_good_sites_and_names_the_broken(tmp_path):
    paths = Paths(root=tmp_path)
    sitemod.save(paths, make())
    sitemod.save(paths, make(name="shop", domains=["shop.example.org"]))
    paths.site_file("junk").write_text("this is [not toml")
    (paths.sites_dir / "Bad Name.toml").write_text("")
    (paths.sites_dir / "esc\x1b[2J.toml").write_text("")
    sites, broken = sitemod.load_valid(paths)
    assert [s.name for s in sites] == ["blog", "shop"]
    assert set(broken) == {"junk", "Bad Name", repr("esc\x1b[2J")}
    assert "not a valid site definition" in broken["junk"]
    assert "not allowed" in broken["Bad Name"]
    with pytest.raises(InvalidInput):
        sitemod.load_all(paths)


def test_an_invalid_site_is_never_saved(tmp_path):
    paths = Paths(root=tmp_path)
    with pytest.raises(InvalidInput):
        sitemod.save(paths, make(requirements=["--index-url=http://evil/"]))
    assert sitemod.names(paths) == []


@pytest.mark.parametrize("table,message", [("workers = \"2\"", "is not a whole number from 1 to 64"),
                                           ("workers = true", "is not a whole number from 1 to 64"),
                                           ("idle = 99999", "idle = 99999"),
                                           ("health_path = \"/x;}\"", "not a plain URL path"),
                                           ("health_path = 1", "health_path must be a string"),
                                           ("colour = 1", "unknown default")])
def test_admin_defaults_obey_the_site_rules(tmp_path, table, message):
    paths = Paths(root=tmp_path)
    paths.etc.mkdir(parents=True)
    (paths.etc / "pws.toml").write_text(f"[defaults]\n{table}\n")
    with pytest.raises(InvalidInput, match=re.escape(message)):
        site_defaults(paths)
    (paths.etc / "pws.toml").write_text("[defaults]\nworkers = 4\nhealth_path = \"/up\"\n")
    assert site_defaults(paths) == {"workers": 4, "health_path": "/up"}
