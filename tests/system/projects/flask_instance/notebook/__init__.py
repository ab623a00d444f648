"""A notebook written the way Flask's documentation teaches: an app factory, configuration
from the instance folder (instance/config.py), its SQLite file there, an `init-db` command."""
import os

from flask import Flask


def create_app():
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(DATABASE=os.path.join(app.instance_path, "notebook.sqlite"),
                            GREETING="greeting from the defaults")
    app.config.from_pyfile("config.py", silent=True)
    os.makedirs(app.instance_path, exist_ok=True)
    if os.path.exists(os.path.join(app.instance_path, "crash-at-start")):
        raise RuntimeError("crash-at-start found in the instance folder")

    from . import db, views
    db.init_app(app)
    app.register_blueprint(views.bp)
    return app
