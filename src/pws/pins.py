"""The versions PWS installs into every site's venv (the one place they are pinned)."""

import sys

GUNICORN = "gunicorn==27.0.1"
SITE_BASE_REQUIREMENTS = (GUNICORN,)

# Frameworks for new projects (an adopted project's own requirements take precedence).
# Django by the system's Python, the interpreter of every site's venv: 6.x needs Python >= 3.12
# (Debian 13); Debian 12's 3.11 runs the 5.2 LTS.
DJANGO_6 = "django==6.1.3"
DJANGO_5 = "django==5.2.19"


def django_for(python: tuple[int, ...]) -> str:
    """The Django pin for a new project on this Python (major, minor)."""
    return DJANGO_6 if tuple(python[:2]) >= (3, 12) else DJANGO_5


DJANGO = django_for(sys.version_info)
FLASK = "flask==3.1.3"
PYRAMID = "pyramid==2.1"
# ASGI sites (the asgi formula, Django --asgi): gunicorn's master with uvicorn's worker class;
# websockets is the protocol implementation uvicorn uses for them.
ASGI_REQUIREMENTS = ("uvicorn-worker==0.4.0", "uvicorn==0.54.0", "websockets==17.4")
# PostgreSQL driver, installed into a site's venv when it uses --db postgresql.
PSYCOPG = "psycopg[binary]==3.3.9"
