"""The versions PWS installs into every site's venv (the one place they are pinned)."""

GUNICORN = "gunicorn==27.0.1"
SITE_BASE_REQUIREMENTS = (GUNICORN,)
