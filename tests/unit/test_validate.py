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


# ---------------------------------------------------------------- fullmatch, injection, look-alikes
INJECTIONS = ["\n", ";", "{", "}", "$", " ", "\t", "\r", "\x00", "'", '"', "\\"]


@pytest.mark.parametrize("bad", INJECTIONS)
def test_no_field_grammar_accepts_injected_syntax(bad):
    checks = [
        lambda: validate.site_name(f"blog{bad}"),
        lambda: validate.domain(f"a{bad}.example.org"),
        lambda: validate.domain(f"example.org{bad}"),
        lambda: validate.app_spec(f"hello:app{bad}"),
        lambda: validate.formula_name(f"wsgi{bad}"),
        lambda: validate.url_prefix(f"/static{bad}/"),
        lambda: validate.relative_path(f"static{bad}", "dir"),
        lambda: validate.health_path(f"/health{bad}"),
        lambda: validate.requirement(f"flask==3.0{bad}"),
        lambda: validate.requirement(f"flask{bad}-e ."),
        lambda: validate.dotted_module(f"mysite.settings{bad}", "settings"),
        lambda: validate.options({"ini": f"production{bad}.ini"}),
        lambda: validate.options({"project_dir": f"src{bad}"}),
    ]
    for check in checks:
        with pytest.raises(InvalidInput):
            check()


def test_a_trailing_newline_is_not_a_wildcard_domain():
    with pytest.raises(InvalidInput):
        validate.domain("a\n.example.org")
    with pytest.raises(InvalidInput):
        validate.site_name("blog\n")


@pytest.mark.parametrize("value", ["\u212aelvin.org",  # KELVIN SIGN lowercases to ASCII k
                                   "ex\u0430mple.org",  # Cyrillic a
                                   "\uff41.org",  # fullwidth a
                                   "a\u200b.org",  # zero-width space
                                   "\u0661.org"])  # Arabic-Indic digit one
def test_unicode_look_alikes_are_refused(value):
    with pytest.raises(InvalidInput):
        validate.domain(value)


def test_unicode_digits_are_not_numbers():
    with pytest.raises(InvalidInput):
        validate.int_text("workers", "\u0663")
    with pytest.raises(InvalidInput):
        validate.int_text("workers", "1_0")
    assert validate.int_text("workers", "4") == 4


@pytest.mark.parametrize("value", ["b" * 29, "a." + "b" * 64 + ".org", ".".join(["abcdefgh"] * 32)])
def test_overlong_names_and_domains(value):
    with pytest.raises(InvalidInput):
        (validate.site_name if "." not in value else validate.domain)(value)


def test_domains_are_deduplicated_bounded_and_required():
    assert validate.domains(["A.org", "b.org."], "x") == ["a.org", "b.org"]
    for bad in ([], ["a.org", "A.ORG."], [f"d{i}.org" for i in range(validate.MAX_DOMAINS + 1)]):
        with pytest.raises(InvalidInput):
            validate.domains(bad, "x")


# ---------------------------------------------------------------- requirements
@pytest.mark.parametrize("req", [
    "flask", "flask==3.1.3", "Django>=4.2,<6", "psycopg[binary]==3.3.9", "zope.interface",
    "a_b-c.d~=1.0", "requests [socks, security] (>=2.0)", "x===1.0+local", "x!=1.*",
    'tomli>=1.1; python_version < "3.11"',
    "pywin32; sys_platform == 'win32' and (platform_machine == 'x86_64' or extra == 'w')",
    'x; os_name not in "nt"'])
def test_plain_requirements_pass(req):
    assert validate.requirement(req) == req


@pytest.mark.parametrize("req", [
    "-e .", "-e", "--index-url=http://evil/", "--extra-index-url http://evil/", "-r x.txt",
    "-c c.txt", "--pre", "--no-deps", "-i http://evil/", "./pkg", "../pkg", "/tmp/pkg", "pkg/sub",
    "pkg @ https://evil/pkg.whl", "pkg@file:///etc", "https://evil/pkg.whl",
    "git+https://evil/x.git", "file:///etc/passwd", "pkg.whl", "", " ", "flask ==", "flask[",
    "flask; ", "flask; python_version", "flask; python_version > '3' and",
    "flask; (python_version > '3'", "flask; os.system('x') == '1'", "flask; __import__ == 'x'",
    "flask==1\n-e .", "flask==1\t", "fla sk", "flask==1 --hash=sha256:x", "f" * 301,
    "flask; python_version > '3$(x)'", "ﬂask"])
def test_pip_options_paths_urls_and_junk_are_not_requirements(req):
    with pytest.raises(InvalidInput, match="not a plain package requirement"):
        validate.requirement(req)


def test_requirement_count_is_bounded():
    with pytest.raises(InvalidInput, match="too many"):
        validate.requirements(["x"] * (validate.MAX_REQUIREMENTS + 1))


# ---------------------------------------------------------------- paths, prefixes, options
@pytest.mark.parametrize("value", ["..", ".", "a/../b", "/etc", "a//b", "a b", "static;",
                                   "static;} server { listen 81; location / { alias /etc/; } #",
                                   "~root", "a/./b", "$home", "st\u0430tic", ""])
def test_bad_relative_paths(value):
    with pytest.raises(InvalidInput):
        validate.relative_path(value, "static")


def test_relative_paths_are_normalised():
    assert validate.relative_path("static/", "x") == "static"
    assert validate.relative_path(".well-known/a_b-c.d", "x") == ".well-known/a_b-c.d"
    assert validate.relative_path(".", "x", dot=True) == "."
    with pytest.raises(InvalidInput):
        validate.relative_path(".", "x")


def test_dir_mappings_normalise_their_keys():
    assert validate.dir_mapping({"static": "s/", "/media": "m"}, "static") == {
        "/static/": "s", "/media/": "m"}
    with pytest.raises(InvalidInput, match="twice"):
        validate.dir_mapping({"/s": "a", "s/": "b"}, "static")


@pytest.mark.parametrize("url", ["/", "", "/a b/", "/a;/", "/a{}/", "/../", "/./", "/$x/",
                                 "/a\n/", "/" + "a" * 300 + "/"])
def test_bad_url_prefixes(url):
    with pytest.raises(InvalidInput):
        validate.url_prefix(url)


@pytest.mark.parametrize("path", ["/", "/healthz", "/api/v1/health?full=1&x=%20", "/a:b@c"])
def test_good_health_paths(path):
    assert validate.health_path(path) == path


@pytest.mark.parametrize("path", ["", "healthz", "/a b", "/a\n", "/a;b", "/a{", "/$host",
                                  "/a'b", "/a\"b", "/a%zz", "/" + "a" * 300, "/\u00e9"])
def test_bad_health_paths(path):
    with pytest.raises(InvalidInput):
        validate.health_path(path)


@pytest.mark.parametrize("key,value", [("workers", 0), ("workers", 65), ("workers", True),
                                       ("workers", "2"), ("workers", 2.0), ("timeout", 0),
                                       ("timeout", 3601), ("health_timeout", 301), ("idle", -1),
                                       ("idle", 10081), ("idle", None)])
def test_tunables_must_be_ints_in_range(key, value):
    with pytest.raises(InvalidInput, match=key):
        validate.tunable_int(key, value)


def test_options_known_keys_only_each_with_its_grammar():
    good = {"project_dir": ".", "settings": "mysite.settings", "ini": "conf/production.ini"}
    assert validate.options(good) == good
    for bad in ({"project_dir": "../../etc"}, {"project_dir": "/etc"},
                {"settings": "x'\nimport os"}, {"settings": "my-site.settings"},
                {"settings": "a..b"}, {"ini": "production.conf"}, {"ini": "../x.ini"},
                {"ini": "/etc/x.ini"}, {"colour": "red"}):
        with pytest.raises(InvalidInput):
            validate.options(bad)


@pytest.mark.parametrize("value", ["", "sqlite", "postgresql"])
def test_databases(value):
    assert validate.database(value) == value


@pytest.mark.parametrize("value", ["mysql", "SQLite", "sqlite\n", " postgresql"])
def test_bad_databases(value):
    with pytest.raises(InvalidInput):
        validate.database(value)


def test_source_is_a_printable_record():
    assert validate.source("/root/my project") == "/root/my project"
    for bad in ("/root/x\n", "/root/\x1b[31mred", "x" * 5000):
        with pytest.raises(InvalidInput):
            validate.source(bad)
