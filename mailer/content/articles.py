"""Storing articles: one upsert that dedupes by guid, then URL, then content hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.core.models import Article, ArticleStats, ArticleTag
from mailer.core.text import strip_invisible

UpsertOutcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class ArticleData:
    """An article as a source describes it, before it is stored."""

    url: str
    title: str
    published_at: datetime
    summary: str = ""
    guid: str | None = None
    author: str | None = None
    section: str | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    image_url: str | None = None
    image_alt: str | None = None
    updated_at: datetime | None = None

    def visible(self) -> ArticleData:
        """The same article with every shown text free of bidi and zero-width characters."""

        def shown(value: str | None) -> str | None:
            return strip_invisible(value).strip() if value else value

        return replace(
            self,
            title=shown(self.title) or "",
            summary=shown(self.summary) or "",
            author=shown(self.author) or None,
            section=shown(self.section) or None,
            tags=tuple(t for t in (shown(t) for t in self.tags) if t),
            image_alt=shown(self.image_alt) or None,
        )

    def content_hash(self) -> str:
        """What makes an edit an edit: the words a reader sees, not fetch metadata."""
        parts = (self.title.strip(), self.summary.strip(), self.section or "", ",".join(self.tags))
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def find_existing(session: Session, data: ArticleData) -> Article | None:
    if data.guid:
        found = session.scalar(select(Article).where(Article.guid == data.guid))
        if found:
            return found
    found = session.scalar(select(Article).where(Article.url == data.url))
    if found:
        return found
    return session.scalar(
        select(Article).where(Article.content_hash == data.content_hash()).limit(1)
    )


def upsert_article(
    session: Session, data: ArticleData, now: datetime, source_id: int | None = None
) -> tuple[Article, UpsertOutcome]:
    """Insert a new article or update the stored one in place; an edit is never 'new'."""
    data = data.visible()  # every source passes here: nothing invisible is ever stored
    digest = data.content_hash()
    article = find_existing(session, data)
    if article is None:
        article = Article(
            source_id=source_id,
            guid=data.guid,
            url=data.url,
            title=data.title,
            summary=data.summary,
            author=data.author,
            section=data.section,
            image_url=data.image_url,
            image_alt=data.image_alt,
            published_at=data.published_at,
            updated_at=data.updated_at,
            content_hash=digest,
            created_at=now,
        )
        article.tags = [ArticleTag(tag=t) for t in sorted(set(data.tags))]
        session.add(article)
        session.flush()
        return article, "created"
    if article.content_hash == digest and article.image_url == data.image_url:
        return article, "unchanged"
    article.title = data.title
    article.summary = data.summary
    article.author = data.author or article.author
    article.section = data.section or article.section
    article.image_url = data.image_url
    article.image_alt = data.image_alt
    article.updated_at = data.updated_at or now
    article.content_hash = digest
    wanted = sorted(set(data.tags))
    if [t.tag for t in article.tags] != wanted:
        article.tags = [ArticleTag(tag=t) for t in wanted]
    session.flush()
    return article, "updated"


def set_stats(
    session: Session,
    article: Article,
    *,
    views: int | None = None,
    shares: int | None = None,
    comments: int | None = None,
    clicks: int | None = None,
    editor_pick: bool | None = None,
    now: datetime,
) -> ArticleStats:
    """Record engagement figures; fields left as None keep their stored value."""
    stats = article.stats
    if stats is None:
        stats = ArticleStats(article_id=article.id, views=0, shares=0, comments=0, clicks=0)
        article.stats = stats
    if views is not None:
        stats.views = views
    if shares is not None:
        stats.shares = shares
    if comments is not None:
        stats.comments = comments
    if clicks is not None:
        stats.clicks = clicks
    if editor_pick is not None:
        stats.editor_pick = editor_pick
    stats.updated_at = now
    session.flush()
    return stats
