"""The versions PWS installs into every site's venv (the one place they are pinned)."""

GUNICORN = "gunicorn==27.0.1"
SITE_BASE_REQUIREMENTS = (GUNICORN,)

# Frameworks for new projects (an adopted project's own requirements take precedence).
DJANGO = "django==5.2.19"
FLASK = "flask==3.1.3"
PYRAMID = "pyramid==2.1"
# ASGI sites (the asgi formula, Django --asgi): gunicorn's master with uvicorn's worker class;
# websockets is the protocol implementation uvicorn uses for them.
ASGI_REQUIREMENTS = ("uvicorn-worker==0.4.0", "uvicorn==0.54.0", "websockets==17.4")
# PostgreSQL driver, installed into a site's venv when it uses --db postgresql.
PSYCOPG = "psycopg[binary]==3.3.9"
