"""The WSGI entry point, as a Flask project often has one."""
from api import create_app

app = create_app()
