"""The sample Flask API: an app factory; notes kept in the site's database (DATABASE_URL)."""
import os
import sqlite3

from flask import Flask, jsonify, request


def _connect(url):
    if url.startswith("sqlite:///"):
        return sqlite3.connect(url.removeprefix("sqlite:///"))
    import psycopg  # postgresql://USER@/DB?host=/var/run/postgresql (peer authentication)
    return psycopg.connect(url)


def create_app():
    app = Flask(__name__)
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY", "")
    url = os.environ.get("DATABASE_URL", "")

    @app.route("/")
    def index():
        return "api is up\n"

    @app.route("/notes", methods=["GET", "POST"])
    def notes():
        with _connect(url) as db:
            db.execute("CREATE TABLE IF NOT EXISTS notes (text TEXT NOT NULL)")
            if request.method == "POST":
                mark = "?" if url.startswith("sqlite") else "%s"
                db.execute(f"INSERT INTO notes (text) VALUES ({mark})", (request.form["text"],))
            count = db.execute("SELECT count(*) FROM notes").fetchone()[0]
        return jsonify(count=count), 201 if request.method == "POST" else 200

    return app
