import pytest

from pws import validate
from pws.errors import InvalidInput


@pytest.mark.parametrize("name", ["../x", "a;b", "A B", "", "x" * 33, "all", "pws", "default",
                                  "Blog", "9lives", "a--b", "end-", "a_b", "a.b", "a/b"])
def test_bad_site_names_are_refused_with_a_fix(name):
    with pytest.raises(InvalidInput) as err:
        validate.site_name(name)
    assert err.value.fix


@pytest.mark.parametrize("name", ["blog", "a", "my-shop2", "x" * 28])
def test_good_site_names(name):
    assert validate.site_name(name) == name


def test_name_length_keeps_the_user_name_valid():
    with pytest.raises(InvalidInput, match="at most 28"):
        validate.site_name("x" * 29)


@pytest.mark.parametrize("domain", ["a.org;", "x.org { }", "ex ample.org", "-a.org", "a..org",
                                    "a.org\nserver_name evil", "$host", "", "a" * 64 + ".org",
                                    "ünï.org", "*.example.org"])
def test_domains_with_nginx_syntax_are_refused(domain):
    with pytest.raises(InvalidInput):
        validate.domain(domain)


def test_domains_are_normalised():
    assert validate.domain("Blog.Example.ORG.") == "blog.example.org"


@pytest.mark.parametrize("spec", ["hello:app", "pkg.mod:create_app()", "_x:_y"])
def test_app_specs(spec):
    assert validate.app_spec(spec) == spec


@pytest.mark.parametrize("spec", ["hello", "hello:", ":app", "hello:app()x", "a b:c",
                                  "os:system('x')", "hello:app;rm"])
def test_bad_app_specs(spec):
    with pytest.raises(InvalidInput):
        validate.app_spec(spec)


def test_static_mapping_normalises_the_url():
    assert validate.static_mapping("static=assets/static") == ("/static/", "assets/static")


@pytest.mark.parametrize("value", ["/static", "=static", "/=static", "/s=../etc", "/s=/etc",
                                   "/a b=static", "/s;x=static", "/../x=static"])
def test_bad_static_mappings(value):
    with pytest.raises(InvalidInput):
        validate.static_mapping(value)
