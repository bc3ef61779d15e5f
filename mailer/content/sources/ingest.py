"""Fetch a source and store its articles in one transaction; keep the source's health."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from mailer.content.articles import ArticleData, upsert_article
from mailer.content.sources import wordpress
from mailer.content.sources.client import SourceSession
from mailer.content.sources.fetch import FetchError, fetch
from mailer.content.sources.rss import ParseError, parse_feed
from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.models import Source

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    url: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    not_modified: bool = False
    error: str = ""
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if self.error:
            return f"{self.url}: failed: {self.error}"
        if self.not_modified:
            return f"{self.url}: not modified"
        return f"{self.url}: {self.new} new, {self.updated} updated, {self.unchanged} unchanged"


def source_kind(url: str) -> str:
    return "wordpress" if url.startswith("wp+") else "rss"


def ensure_source(db: Database, url: str, now: datetime) -> None:
    with db.session() as session:
        if session.scalar(select(Source.id).where(Source.url == url)) is None:
            session.add(
                Source(url=url, kind=source_kind(url), created_at=now, consecutive_failures=0)
            )


def ingest_source(
    db: Database, http: SourceSession, url: str, now: datetime, settings: Settings
) -> IngestReport:
    """One source, all or nothing: a failure is recorded and nothing stored is lost."""
    report = IngestReport(url)
    ensure_source(db, url, now)
    with db.session() as session:
        source = session.scalar(select(Source).where(Source.url == url))
        etag, modified, cursor = source.etag, source.last_modified, source.cursor
    try:
        if source_kind(url) == "wordpress":
            articles, cursor = wordpress.fetch_posts(
                http, url, cursor, now, settings.fetch_max_bytes
            )
        else:
            got = fetch(
                http,
                url,
                etag=etag,
                last_modified=modified,
                max_bytes=settings.fetch_max_bytes,
                accept="application/rss+xml, application/atom+xml, application/xml;q=0.9",
            )
            if got.status == 304:
                report.not_modified = True
                _healthy(db, url, now)
                return report
            articles, report.notes = parse_feed(got.body, got.url, now)
            etag, modified = got.etag, got.last_modified
        _store(db, url, articles, now, report)
        _healthy(db, url, now, etag=etag, modified=modified, cursor=cursor)
    except (FetchError, ParseError) as exc:
        report.error = str(exc)
    except SQLAlchemyError as exc:
        report.error = f"could not store the articles: {type(exc).__name__}"
    except Exception as exc:  # a bug met by odd input must not stop the sources after this one
        log.exception("ingesting %s failed unexpectedly", url)
        report.error = f"unexpected failure: {type(exc).__name__}"
    if report.error:
        _failed(db, url, now, report.error)
    return report


def _store(db: Database, url: str, articles: list[ArticleData], now: datetime, report) -> None:
    with db.session() as session:
        source_id = session.scalar(select(Source.id).where(Source.url == url))
        for data in articles:
            _, outcome = upsert_article(session, data, now, source_id=source_id)
            if outcome == "created":
                report.new += 1
            elif outcome == "updated":
                report.updated += 1
            else:
                report.unchanged += 1


def _healthy(db, url, now, *, etag=None, modified=None, cursor=None) -> None:
    with db.session() as session:
        source = session.scalar(select(Source).where(Source.url == url))
        source.last_fetched_at = source.last_success_at = now
        source.consecutive_failures = 0
        source.last_error = None
        if etag or modified:
            source.etag, source.last_modified = etag, modified
        if cursor:
            source.cursor = cursor


def _failed(db, url, now, error: str) -> None:
    with db.session() as session:
        source = session.scalar(select(Source).where(Source.url == url))
        source.last_fetched_at = now
        source.consecutive_failures += 1
        source.last_error = error[:2000]


def ingest_all(
    db: Database,
    http: SourceSession,
    settings: Settings,
    now: datetime,
    urls: list[str] | None = None,
) -> list[IngestReport]:
    """Every configured and stored source (or just `urls`), each in its own transaction."""
    if urls is None:
        with db.session() as session:
            stored = list(session.scalars(select(Source.url).where(Source.kind != "import")))
        urls = list(dict.fromkeys([*settings.sources, *stored]))
    return [ingest_source(db, http, url, now, settings) for url in urls]
