"""The sample Pyramid project: a paste.app_factory (see pyproject.toml's entry point)."""
from pyramid.config import Configurator
from pyramid.response import Response


def front_page(request):
    return Response(f"{request.registry.settings['wiki.title']}: front page\n",
                    content_type="text/plain")


def main(global_config, **settings):
    with Configurator(settings=settings) as config:
        config.add_route("front", "/")
        config.add_view(front_page, route_name="front")
        config.add_static_view(name="static", path="wiki:static")
        return config.make_wsgi_app()
