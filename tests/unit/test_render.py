import os

import crossplane

from pws.deploy import Deployer
from pws.formulae.wsgi import WsgiFormula
from pws.nginx.server import NginxServer
from pws.paths import Paths, SOURCE_TREE
from pws.site import Site
from pws.ui import UI


def site():
    return Site(name="blog", formula="wsgi", app="blog.wsgi:create_app()",
                domains=["blog.example.org", "www.blog.example.org"],
                static={"/static/": "static", "/assets/img/": "img"}, workers=3, timeout=20)


def test_vhost_parses_and_proxies_to_the_site_socket(tmp_path):
    paths = Paths(root=tmp_path, share=SOURCE_TREE)
    text = NginxServer(paths).render(site())
    conf = tmp_path / "vhost.conf"
    conf.write_text("http {\n" + text + "\n}\n")
    parsed = crossplane.parse(str(conf), single=True)
    assert parsed["status"] == "ok", parsed["errors"]
    http = parsed["config"][0]["parsed"][0]["block"]
    upstream = next(d for d in http if d["directive"] == "upstream")
    assert upstream["block"][0]["args"][0] == f"unix:{tmp_path}/run/pws/blog.sock"
    server = next(d for d in http if d["directive"] == "server")["block"]
    names = next(d for d in server if d["directive"] == "server_name")["args"]
    assert names == ["blog.example.org", "www.blog.example.org"]
    aliases = {d["args"][0]: next(x for x in d["block"] if x["directive"] == "alias")["args"][0]
               for d in server if d["directive"] == "location" and d["args"][0].startswith("/a")
               or d["args"][0].startswith("/s")}
    errors = next(d for d in server if d["directive"] == "location"
                  and d["args"] == ["^~", "/.pws-errors/"])
    assert errors["args"] == ["^~", "/.pws-errors/"]
    assert ["internal"] in [[x["directive"]] for x in errors["block"]]
    assert aliases == {"/static/": f"{tmp_path}/srv/pws/blog/current/static/copies/static/",
                       "/assets/img/": f"{tmp_path}/srv/pws/blog/current/static/copies/assets+img/"}


def render_config(tmp_path, site_, formula=None, env=None):
    paths = Paths(root=tmp_path, share=SOURCE_TREE)
    deployer = Deployer(paths, UI(quiet=True), NginxServer(paths), services=None)
    text = deployer.render_gunicorn(site_, formula or WsgiFormula())
    values = {}
    saved = dict(os.environ)
    os.environ.pop("PWS_RELEASE", None)
    os.environ.update(env or {})
    try:
        exec(compile(text, "gunicorn.conf.py", "exec"), values)
        values["_environ_after"] = dict(os.environ)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return values


def test_gunicorn_config_is_python_with_the_site_values(tmp_path):
    home = tmp_path / "srv/pws/blog"
    (home / "releases/3/app").mkdir(parents=True)
    (home / "current").symlink_to("releases/3")
    values = render_config(tmp_path, site())
    assert values["wsgi_app"] == "blog.wsgi:create_app()"
    assert values["workers"] == 3 and values["timeout"] == 20
    assert values["bind"] == [f"unix:{tmp_path}/run/pws/blog.sock"]
    assert values["control_socket_disable"] is True
    # The release current names, resolved once: the master never follows a later switch.
    assert values["chdir"] == f"{home}/releases/3/app"
    assert values["pythonpath"] == values["chdir"]


def test_gunicorn_config_serves_the_release_named_by_pws_release(tmp_path):
    home = tmp_path / "srv/pws/blog"
    values = render_config(tmp_path, site(), env={"PWS_RELEASE": f"{home}/releases/7"})
    assert values["chdir"] == f"{home}/releases/7/app"


def test_gunicorn_config_reads_the_env_file_literally(tmp_path):
    env_file = tmp_path / "etc/pws/secrets/blog/env"
    env_file.parent.mkdir(parents=True)
    env_file.write_bytes("A=1\nB= spaced $HOME \"q\" \\n=x \nC=é\nnot a variable\n".encode()
                         + b"D=\xff\n")
    environ = render_config(tmp_path, site())["_environ_after"]
    assert (environ["A"], environ["B"], environ["C"]) == ("1", ' spaced $HOME "q" \\n=x ', "é")
    assert os.fsencode(environ["D"]) == b"\xff"  # bytes reach the app as they are
    assert "not a variable" not in environ


def test_pyramid_settings_name_files_of_the_served_release(tmp_path):
    from pws.formulae import AppRelative
    paths = Paths(root=tmp_path, share=SOURCE_TREE)
    deployer = Deployer(paths, UI(quiet=True), NginxServer(paths), services=None)
    text = deployer.render_gunicorn(site(), WsgiFormula(), {"paste": AppRelative("prod.ini")})
    values = {}
    os.environ["PWS_RELEASE"] = "/srv/pws/blog/releases/2"
    try:
        exec(compile(text, "gunicorn.conf.py", "exec"), values)
    finally:
        del os.environ["PWS_RELEASE"]
    assert values["paste"] == "/srv/pws/blog/releases/2/app/prod.ini"


def django_site():
    return Site(name="dj", formula="django", app="dj.wsgi:application", domains=["dj.example.org"],
                static={"/assets/": "assets"},
                aliases={"/static/": "current/static/django", "/media/": "media"})


def parsed_server(tmp_path, site_, listen=("80",)):
    paths = Paths(root=tmp_path, share=SOURCE_TREE)
    conf = tmp_path / "vhost.conf"
    conf.write_text("http {\n" + NginxServer(paths, listen=listen).render(site_) + "\n}\n")
    parsed = crossplane.parse(str(conf), single=True)
    assert parsed["status"] == "ok", parsed["errors"]
    http = parsed["config"][0]["parsed"][0]["block"]
    return next(d for d in http if d["directive"] == "server")["block"]


def directives(block, name):
    return [d["args"] for d in block if d["directive"] == name]


def test_file_locations_send_nosniff_and_refuse_foreign_links_where_the_site_writes(tmp_path):
    server = parsed_server(tmp_path, django_site())
    assert directives(server, "add_header") == []  # locations would silently drop it
    files = {d["args"][-1]: d["block"] for d in server
             if d["directive"] == "location" and directives(d["block"], "alias")}
    assert set(files) == {"/.pws-errors/", "/assets/", "/static/", "/media/"}
    for url, block in files.items():
        assert ["X-Content-Type-Options", "nosniff", "always"] in directives(block, "add_header")
    # Where the site writes (Django's static/django, media/), links are checked from its home
    # on; pws's own link-free copies (/assets/) and the error pages pay no such cost.
    home = f"{tmp_path}/srv/pws/dj"
    for url in ("/static/", "/media/"):
        assert directives(files[url], "disable_symlinks") == [["if_not_owner", f"from={home}"]], url
    assert directives(files["/assets/"], "disable_symlinks") == []
    csp = ["Content-Security-Policy", "default-src 'none'; sandbox", "always"]
    assert [url for url, block in files.items() if csp in directives(block, "add_header")] == \
        ["/media/"]
    assert ["Cache-Control", "public"] in directives(files["/media/"], "add_header")


def test_the_app_gets_only_what_nginx_knows_of_the_client(tmp_path):
    server = parsed_server(tmp_path, site())
    app = next(d["block"] for d in server if d["directive"] == "location" and d["args"] == ["/"])
    headers = {args[0]: args[1] for args in directives(app, "proxy_set_header")}
    assert headers["X-Forwarded-For"] == "$remote_addr"
    assert headers["X-Real-IP"] == "$remote_addr"
    assert (headers["X-Forwarded-Proto"], headers["X-Forwarded-Host"]) == ("$scheme", "$host")
    for dropped in ("X-Forwarded-Ssl", "X-Forwarded-Protocol", "X-Forwarded-Port",
                    "X-Forwarded-Prefix", "Forwarded"):
        assert headers[dropped] == "", dropped
    assert directives(app, "add_header") == []


def test_ipv6_is_listened_on_only_where_the_kernel_has_it(tmp_path):
    no_addresses = tmp_path / "if_inet6"
    no_addresses.write_text("")
    assert NginxServer.kernel_has_ipv6(no_addresses) is False
    assert NginxServer.kernel_has_ipv6(tmp_path / "absent") is False  # ipv6.disable=1
    has = NginxServer.kernel_has_ipv6()
    real = open("/proc/net/if_inet6").read().strip() if os.path.exists("/proc/net/if_inet6") else ""
    assert has == bool(real)
    server = parsed_server(tmp_path, site(), listen=NginxServer(Paths(root=tmp_path)).listen)
    assert directives(server, "listen") == ([["80"], ["[::]:80"]] if has else [["80"]])
