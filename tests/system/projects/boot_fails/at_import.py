"""An app that raises at import."""
raise ImportError("cannot import name 'Markup' from 'jinja2' (an old dependency)")


def app(environ, start_response):  # never reached
    start_response("200 OK", [])
    return [b""]
