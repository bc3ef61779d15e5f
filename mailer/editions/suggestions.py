"""Related coverage for any stored article, as the desk suggests it and the CLI shows it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from mailer.content.related import Related, RelatedIndex, related_coverage
from mailer.core.config import Settings
from mailer.core.models import Article
from mailer.editions.digests import load_docs


def related_for(
    session: Session, settings: Settings, article: Article, k: int, exclude_ids: Iterable[int] = ()
) -> list[Related]:
    """The window of archive before the article and every newer follow-up, ranked for it."""
    window = timedelta(days=settings.related_window_days)
    archive = load_docs(session, article.published_at - window, datetime.max.replace(tzinfo=UTC))
    index = RelatedIndex.build(archive)
    story = archive[index.position[article.id]]
    return related_coverage(index, story, k, exclude_ids)
