"""The articles an editor may add: the week's for a digest (removed stories first, to restore),
the recent ones or a title search for a special edition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.content.calendar import period_bounds
from mailer.core.config import Settings
from mailer.core.models import Article, ArticleStats, AuditEntry, Digest

MAX_CANDIDATES = 200  # a picker, not an archive browser: the search box finds the rest


@dataclass(frozen=True)
class Candidate:
    """An article of the week that is not a story of the digest."""

    article_id: int
    title: str
    section: str | None
    published_at: datetime
    views: int
    removed_from: int | None = None  # the position it held, when an editor removed it


def removed_positions(session: Session, digest: Digest) -> dict[int, int]:
    """Articles editors removed from this digest (newest removal wins), by article id."""
    entries = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.target == f"digest:{digest.period_key}", AuditEntry.action == "exclude")
        .order_by(AuditEntry.id)
    )
    found: dict[int, int] = {}
    for entry in entries:
        detail = entry.detail if isinstance(entry.detail, dict) else {}
        article, position = detail.get("article"), detail.get("position")
        if isinstance(article, int) and isinstance(position, int):
            found[article] = position
    return found


def candidates(session: Session, settings: Settings, digest: Digest) -> list[Candidate]:
    """Removed stories first, then the week's other articles, most read first."""
    start, end = period_bounds(digest.period_key, settings.zone)
    taken = {i.article_id for i in digest.items}
    removed = {a: p for a, p in removed_positions(session, digest).items() if a not in taken}
    week = (Article.published_at >= start, Article.published_at < end)
    rows = session.execute(
        select(
            Article.id,
            Article.title,
            Article.section,
            Article.published_at,
            ArticleStats.views,
        )
        .outerjoin(ArticleStats, ArticleStats.article_id == Article.id)
        .where(Article.id.in_(removed) | (week[0] & week[1]))
        .order_by(ArticleStats.views.desc().nulls_last(), Article.published_at.desc())
        .limit(MAX_CANDIDATES + len(taken) + len(removed))
    ).all()
    found = [
        Candidate(r[0], r[1], r[2], r[3], r[4] or 0, removed.get(r[0]))
        for r in rows
        if r[0] not in taken
    ]
    found.sort(key=lambda c: c.removed_from is None)  # stable: restores first, then by views
    return found[:MAX_CANDIDATES]


RECENT_DAYS = 14  # what a special edition picks from unless the editor searches the archive


def recent(
    session: Session, now: datetime, query: str = "", limit: int = MAX_CANDIDATES
) -> list[Candidate]:
    """Articles for a special edition: the last RECENT_DAYS days newest first, or, with a query,
    any stored article whose title holds every word of it."""
    words = query.split()[:8]
    conditions = [Article.published_at <= now]
    if words:
        for word in words:  # LIKE's own wildcards in the query are matched as themselves
            escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(Article.title.ilike(f"%{escaped[:100]}%", escape="\\"))
    else:
        conditions.append(Article.published_at >= now - timedelta(days=RECENT_DAYS))
    rows = session.execute(
        select(Article.id, Article.title, Article.section, Article.published_at, ArticleStats.views)
        .outerjoin(ArticleStats, ArticleStats.article_id == Article.id)
        .where(*conditions)
        .order_by(Article.published_at.desc(), Article.id.desc())
        .limit(limit)
    ).all()
    return [Candidate(r[0], r[1], r[2], r[3], r[4] or 0) for r in rows]
