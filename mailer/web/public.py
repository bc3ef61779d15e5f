"""Pages anyone may open."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, jsonify, make_response, redirect, render_template, url_for
from flask_babel import gettext
from sqlalchemy import select
from werkzeug.security import safe_join

from mailer.content.demo import DEMO_IMAGE_PATH
from mailer.content.demo_images import IMAGE_DIR
from mailer.core.db import current_revision, head_revision
from mailer.core.errors import NotFound
from mailer.core.models import Newsletter
from mailer.editions.archive import (
    FEED_ENTRIES,
    archive_name,
    archive_url,
    atom_feed,
    describe,
    feed_url,
    sent_digests,
)
from mailer.editions.digests import find_digest
from mailer.editions.render import web_issue
from mailer.web.context import page_language, services, small_file

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
    path = safe_join(str(IMAGE_DIR), name)
    if path is None or not Path(path).is_file():
        abort(404, "There is no such picture.")
    return small_file(Path(path), "image/png", max_age=86400)


def _meta(kind: str, title: str, description: str, url: str, image: str, newsletter=None) -> dict:
    """What the description, Open Graph and feed-discovery tags of an archive page say."""
    return {
        "type": kind,
        "title": title,
        "description": description,
        "url": url,
        "image": image,
        "feed_url": feed_url(newsletter, services().settings),
    }


def _newsletter(slug: str | None) -> Newsletter | None:
    """The newsletter an archive address names (None: the default), or a 404."""
    if slug is None:
        return None
    with services().db.session() as session:
        found = session.scalar(select(Newsletter).where(Newsletter.slug == slug))
    if found is None:
        abort(404, "There is no such newsletter.")
    return found


def _is_newsletter(slug: str) -> bool:
    with services().db.session() as session:
        return session.scalar(select(Newsletter.id).where(Newsletter.slug == slug)) is not None


@bp.get("/archive")
@bp.get("/archive/<slug>/")
def archive(slug: str | None = None):
    """Every issue of a newsletter that went out, newest first, with its title and date."""
    svc = services()
    newsletter = _newsletter(slug)
    name = archive_name(newsletter, svc.settings)
    owner = newsletter.id if newsletter else None
    language = page_language()
    issues = [
        describe(d, svc.settings, language) for d in sent_digests(svc.db, newsletter_id=owner)
    ]
    names = {"list": name, "site": svc.settings.site_name}
    meta = _meta(
        "website",
        gettext("Past issues of %(list)s", **names),
        gettext("Every issue of %(list)s from %(site)s.", **names),
        archive_url(newsletter, svc.settings),
        issues[0].image_url if issues else "",
        newsletter,
    )
    return render_template(
        "web/archive.html", issues=issues, meta=meta, list_name=name, archive_slug=slug
    )


@bp.get("/archive.atom")
@bp.get("/archive/<slug>/feed.atom")
def archive_feed(slug: str | None = None):
    """A newsletter's archive as an Atom feed, for feed readers."""
    svc = services()
    newsletter = _newsletter(slug)
    owner = newsletter.id if newsletter else None
    issues = sent_digests(svc.db, FEED_ENTRIES, owner)
    body = atom_feed(issues, svc.settings, svc.now(), newsletter)
    response = make_response(body)
    response.headers["Content-Type"] = "application/atom+xml; charset=utf-8"
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/archive/<period>")
@bp.get("/archive/<slug>/<period>")
def archive_issue(period: str, slug: str | None = None):
    """One issue as a page of the site: no greeting, no personal or tracked link."""
    svc = services()
    newsletter = _newsletter(slug)
    try:
        digest = find_digest(svc.db, period, newsletter.id if newsletter else None)
    except NotFound:
        if slug is None and _is_newsletter(period):  # /archive/daily: its list lives at /daily/
            return redirect(url_for("public.archive", slug=period), 308)
        abort(404, gettext("There is no such issue in the archive."))
    if digest.status != "sent" or (newsletter and digest.newsletter_id != newsletter.id):
        abort(404, gettext("There is no such issue in the archive."))
    response = make_response(issue_page(digest, svc.settings))
    response.headers["Cache-Control"] = "public, max-age=300"
    response.vary.add("Accept-Language")  # the page follows the reader's language
    return response


def issue_page(digest, settings) -> str:
    """An issue as the archive shows it; the desk's signed preview shows the same page."""
    language = page_language()
    issue = describe(digest, settings, language)
    newsletter = digest.newsletter
    meta = _meta("article", issue.title, issue.description, issue.url, issue.image_url, newsletter)
    return render_template(
        "web/archive_issue.html",
        issue=issue,
        meta=meta,
        list_name=archive_name(newsletter, settings),
        **web_issue(digest, settings, language),
    )
