"""The editors' view of content: each source's health, and article search with editor picks."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import or_, select

from mailer.content.articles import set_stats
from mailer.core.models import Article, Source
from mailer.web.admin import login_required
from mailer.web.context import services

bp = Blueprint("library", __name__, url_prefix="/admin")

PAGE = 50


@bp.get("/sources")
@login_required()
def sources():
    svc = services()
    with svc.db.session() as session:
        stored = {s.url: s for s in session.scalars(select(Source).order_by(Source.url))}
    configured = [u for u in svc.settings.sources if u not in stored]
    return render_template(
        "web/admin/sources.html", sources=list(stored.values()), configured=configured
    )


@bp.get("/articles")
@login_required()
def articles():
    svc = services()
    query_text = request.args.get("q", "").strip()[:200]
    picks_only = request.args.get("picks") == "1"
    query = select(Article).order_by(Article.published_at.desc()).limit(PAGE)
    if query_text:
        pattern = f"%{query_text.replace('%', '').replace('_', '')}%"
        query = query.where(
            or_(
                Article.title.ilike(pattern),
                Article.summary.ilike(pattern),
                Article.section.ilike(pattern),
            )
        )
    with svc.db.session() as session:
        rows = list(session.scalars(query))
        if picks_only:
            rows = [a for a in rows if a.stats and a.stats.editor_pick]
    return render_template(
        "web/admin/articles.html", articles=rows, q=query_text, picks_only=picks_only
    )


@bp.post("/articles/<int:article_id>/pick")
@login_required("editor")
def pick(article_id: int):
    svc = services()
    chosen = request.form.get("pick") == "1"
    with svc.db.session() as session:
        article = session.get(Article, article_id)
        if article is None:
            abort(404, "No such article.")
        set_stats(session, article, editor_pick=chosen, now=svc.now())
        title = article.title
    flash(
        ("Marked as editor's pick: " if chosen else "No longer a pick: ")
        + title
        + f" (by {g.editor.email})"
    )
    return redirect(url_for("library.articles", q=request.form.get("q", ""))), 303
