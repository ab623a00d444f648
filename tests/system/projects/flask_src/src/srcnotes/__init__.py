"""A src/ layout: the package is installed, so Flask's instance folder is <prefix>/var/."""
import os

from flask import Flask


def create_app():
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    with open(os.path.join(app.instance_path, "started"), "w") as f:
        f.write("yes\n")

    @app.route("/")
    def index():
        return f"srcnotes, instance {app.instance_path}\n"

    return app
