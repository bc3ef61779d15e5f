"""Why a story leads and why a related piece sits under it, in words an editor can check:
the same facts ranking (stories, views, picks) and related coverage (shared names and words)
use, read again from the archive as it is now."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.content.calendar import period_bounds
from mailer.content.ranking import Doc, reader_interest
from mailer.content.related import Related, RelatedIndex
from mailer.content.stories import STORY_PARAMS, Stories
from mailer.core.config import Settings
from mailer.core.models import Article, Digest
from mailer.editions.digests import load_docs, to_doc


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _readership(doc: Doc, rank: int) -> str:
    """'most read: 1,234 views', or the place it holds among the week's pieces."""
    if doc.views <= 0 and reader_interest(doc) <= 0:
        return ""
    figures = _plural(doc.views, "view")
    extra = [_plural(n, w) for n, w in ((doc.clicks, "click"), (doc.shares, "share")) if n]
    if extra:
        figures += ", " + ", ".join(extra)
    return (
        f"most read this week: {figures}" if rank == 1 else f"{_ordinal(rank)} most read: {figures}"
    )


def story_reasons(
    session: Session, settings: Settings, digest: Digest, now: datetime
) -> dict[int, list[str]]:
    """For each story (by item id), the facts that put it in the issue, strongest first."""
    start, end = period_bounds(digest.period_key, settings.zone)
    until = min(end, now)
    window = load_docs(session, start - timedelta(days=STORY_PARAMS.lookback_days), until)
    week = [d for d in window if d.published_at >= start]
    by_interest = sorted(week, key=lambda d: -reader_interest(d))
    rank = {d.id: n for n, d in enumerate(by_interest, 1)}
    docs = {d.id: d for d in week}
    stories = Stories(window, start, until) if week else None
    items = list(digest.items)
    newest = max((i.published_at for i in items), default=None)
    reasons: dict[int, list[str]] = {}
    for item in items:
        found: list[str] = ["pinned by an editor"] if item.pinned else []
        doc = docs.get(item.article_id or -1)
        if doc is None:
            found.append("added by an editor" if not item.score else "published outside the week")
            reasons[item.id] = found
            continue
        if doc.editor_pick:
            found.append("editor's pick")
        story = None
        if stories is not None and doc.id in stories.group_of:
            story = stories.story(stories.group_of[doc.id], set())
        if story is not None and story.this_week > 1:
            found.append(
                f"{_plural(story.this_week, 'piece')} on this story this week"
                + (f" from {story.sources} sources" if story.sources > 1 else "")
            )
        found.append(_readership(doc, rank[doc.id]))
        if doc.sticky:
            found.append("kept at the top of the site's front page")
        elif doc.position == 0:
            found.append("first in its feed")
        if item.published_at == newest and len(items) > 1:
            found.append("newest in the issue")
        if not item.score and not item.pinned:
            found.append("added by an editor")
        reasons[item.id] = [r for r in found if r]
    return reasons


def related_reasons(session: Session, settings: Settings, digest: Digest) -> dict[int, str]:
    """For each related piece (by its row id), the names and words it shares with its story."""
    pairs = [
        (item.article_id, rel)
        for item in digest.items
        for rel in item.related
        if item.article_id is not None and rel.article_id is not None
    ]
    ids = {a for a, _ in pairs} | {rel.article_id for _, rel in pairs}
    if not ids:
        return {}
    articles = session.scalars(select(Article).where(Article.id.in_(ids))).all()
    start, end = period_bounds(digest.period_key, settings.zone)
    context = load_docs(session, start, end)  # the week's words, so rare names weigh most
    known = {d.id for d in context}
    index = RelatedIndex.build(context + [to_doc(a) for a in articles if a.id not in known])
    reasons: dict[int, str] = {}
    for story_id, rel in pairs:
        if story_id not in index.position or rel.article_id not in index.position:
            continue
        i, j = index.position[story_id], index.position[rel.article_id]
        names, terms = index.shared(i, j)
        reasons[rel.id] = Related(index.docs[j], rel.score, rel.score, names, terms).reason
    return reasons
