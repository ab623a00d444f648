import crossplane

from pws.deploy import Deployer
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
    errors = next(d for d in server if d["directive"] == "location" and d["args"][0] == "^~")
    assert errors["args"] == ["^~", "/.pws-errors/"]
    assert ["internal"] in [[x["directive"]] for x in errors["block"]]
    assert aliases == {"/static/": f"{tmp_path}/srv/pws/blog/static/static/",
                       "/assets/img/": f"{tmp_path}/srv/pws/blog/static/assets_img/"}


def test_gunicorn_config_is_python_with_the_site_values(tmp_path):
    paths = Paths(root=tmp_path, share=SOURCE_TREE)
    text = Deployer(paths, UI(quiet=True), NginxServer(paths), services=None).render_gunicorn(site())
    values = {}
    exec(compile(text, "gunicorn.conf.py", "exec"), values)
    assert values["wsgi_app"] == "blog.wsgi:create_app()"
    assert values["workers"] == 3 and values["timeout"] == 20
    assert values["bind"] == [f"unix:{tmp_path}/run/pws/blog.sock"]
    assert values["control_socket_disable"] is True
    assert values["chdir"] == f"{tmp_path}/srv/pws/blog/app"
