"""Readers' clicks as input to ranking: what they followed in the last sent issues."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.content.ranking import Doc
from mailer.core.models import Article, ClickCount, Digest, DigestItem, DigestRelated

SENT_STATUSES = ("sending", "paused", "sent")


def clicked_articles(session: Session, digest_ids: Iterable[int]) -> dict[int, int]:
    """People's clicks per article on the stories (and related links) of the given digests."""
    ids = list(digest_ids)
    if not ids:
        return {}
    clicks: dict[int, int] = {}
    story = (
        select(DigestItem.article_id, func.sum(ClickCount.clicks))
        .join(
            ClickCount,
            (ClickCount.item_id == DigestItem.id) & (ClickCount.kind == "story"),
        )
        .where(ClickCount.digest_id.in_(ids), DigestItem.article_id.is_not(None))
        .group_by(DigestItem.article_id)
    )
    related = (
        select(DigestRelated.article_id, func.sum(ClickCount.clicks))
        .join(
            ClickCount,
            (ClickCount.item_id == DigestRelated.id) & (ClickCount.kind == "related"),
        )
        .where(ClickCount.digest_id.in_(ids), DigestRelated.article_id.is_not(None))
        .group_by(DigestRelated.article_id)
    )
    for query in (story, related):
        for article_id, count in session.execute(query):
            if count and count > 0:
                clicks[article_id] = clicks.get(article_id, 0) + int(count)
    return clicks


RECENT_ISSUES = 4  # the issues whose clicks say what readers follow


def recent_clicks(session: Session, before_period: str) -> list[tuple[Doc, int]]:
    """The articles readers clicked in the last few sent issues, with their clicks, for
    related.follow_up_interest: interest in a story is interest in its follow-ups."""
    ids = session.scalars(
        select(Digest.id)
        .where(Digest.period_key < before_period, Digest.status.in_(SENT_STATUSES))
        .order_by(Digest.period_key.desc())
        .limit(RECENT_ISSUES)
    ).all()
    clicks = clicked_articles(session, ids)
    if not clicks:
        return []
    rows = session.execute(
        select(Article.id, Article.title, Article.summary, Article.section, Article.published_at)
        .where(Article.id.in_(clicks))
        .order_by(Article.id)
    )
    return [
        (
            Doc(id=r[0], title=r[1], summary=r[2] or "", section=r[3], tags=(), published_at=r[4]),
            clicks[r[0]],
        )
        for r in rows
    ]
