"""Pages anyone may open."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template

from mailer.db import current_revision, head_revision
from mailer.web import services

bp = Blueprint("public", __name__)


@bp.get("/")
def home():
    return render_template("web/home.html")


@bp.get("/healthz")
def healthz():
    """For load balancers and `make run` checks: is the database there and migrated?"""
    db = services().db
    ok = db.ping()
    body = {"status": "ok" if ok else "error", "database": "ok" if ok else "unreachable"}
    if ok:
        current, head = current_revision(db), head_revision(db)
        body["schema"] = current
        if current != head:
            body.update(status="error", database=f"schema {current} is not {head}: run db upgrade")
    return jsonify(body), 200 if body["status"] == "ok" else 503
