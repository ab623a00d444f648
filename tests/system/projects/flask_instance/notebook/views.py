from flask import Blueprint, current_app, request

from .db import get_db

bp = Blueprint("notes", __name__)


@bp.route("/")
def index():
    count = get_db().execute("SELECT count(*) FROM note").fetchone()[0]
    return (f"{current_app.config['GREETING']}; notes: {count}; "
            f"instance: {current_app.instance_path}\n")


@bp.post("/notes")
def add():
    db = get_db()
    db.execute("INSERT INTO note (text) VALUES (?)", (request.form["text"],))
    db.commit()
    return "added\n", 201
