"""Pages anyone may open."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template, send_from_directory
from sqlalchemy import select

from mailer.content.demo import DEMO_IMAGE_PATH
from mailer.content.demo_images import IMAGE_DIR
from mailer.core.db import current_revision, head_revision
from mailer.core.errors import NotFound
from mailer.core.models import Digest
from mailer.editions.digests import find_digest
from mailer.editions.render import render_web
from mailer.web.context import services

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


@bp.get(f"{DEMO_IMAGE_PATH}/<name>")
def demo_image(name: str):
    """The demo articles' pictures, so previews and test mail show them (any other name: 404)."""
    return send_from_directory(IMAGE_DIR, name, mimetype="image/png", max_age=86400)


@bp.get("/archive")
def archive():
    """Every digest that went out, newest first."""

    with services().db.session() as session:
        sent = session.scalars(
            select(Digest).where(Digest.status == "sent").order_by(Digest.period_key.desc())
        ).all()
    return render_template("web/archive.html", digests=sent)


@bp.get("/archive/<period>")
def archive_issue(period: str):
    """The web version of one issue, with no personal links in it."""
    from flask import abort, make_response

    try:
        digest = find_digest(services().db, period)
    except NotFound:
        abort(404, "There is no such issue in the archive.")
    if digest.status != "sent":
        abort(404, "There is no such issue in the archive.")
    response = make_response(render_web(digest, services().settings))
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
