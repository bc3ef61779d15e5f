"""Fetch a week's page views, give them to that week's articles, and record how it went.

A failing provider never stops a build: the outcome (with the provider's reason) is kept in
`analytics_fetches` for the desk, and the articles keep the figures they had.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import requests
from sqlalchemy import select

from mailer.content.analytics import AnalyticsError, PageStat, provider_for
from mailer.content.articles import set_stats
from mailer.content.calendar import period_bounds
from mailer.content.sources.canonical import canonical_url, is_http
from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.models import AnalyticsFetch, Article

log = logging.getLogger(__name__)

MAX_STORED = 2**31 - 1  # the column is a 32-bit integer


@dataclass
class FetchReport:
    """What one fetch did, in words an editor can read."""

    period: str
    provider: str
    ok: bool = False
    pages: int = 0
    articles_updated: int = 0
    unmatched: int = 0
    rejected: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.ok:
            return f"{self.provider} page views for {self.period} failed: {self.error}"
        parts = [
            f"{self.provider} page views for {self.period}: {self.pages} pages read",
            f"{self.articles_updated} articles updated",
        ]
        if self.unmatched:
            parts.append(f"{self.unmatched} pages matched no article of the week")
        if self.rejected:
            parts.append(f"{self.rejected} rows unusable")
        return ", ".join(parts) + "".join(f"; {note}" for note in self.notes)


def refresh_page_stats(
    db: Database, http: requests.Session, settings: Settings, period: str, now: datetime
) -> FetchReport | None:
    """Views (and engaged time) for the week's articles from MAILER_ANALYTICS; None if unset."""
    provider = provider_for(settings)
    if provider is None:
        return None
    report = FetchReport(period=period, provider=provider.name)
    zone = settings.zone
    start, end = (moment.astimezone(zone) for moment in period_bounds(period, zone))
    try:
        stats = provider.fetch_page_stats(start, end, http, now)
        report.pages, report.rejected = len(stats), provider.rejected
        report.notes.extend(provider.notes)
        _store(db, stats, start, end, _site_hosts(provider.site_bases(), settings), report, now)
        report.ok = True
    except AnalyticsError as exc:
        report.error = str(exc)
    except Exception as exc:  # hostile data must not stop a build; say so and go on
        log.exception("analytics fetch for %s failed", period)
        report.error = f"unexpected {type(exc).__name__} while reading the answer"
    _record(db, report, provider.dsn.provider, now)
    return report


def _site_hosts(bases: Iterable[str], settings: Settings) -> set[str]:
    hosts = {urlsplit(base).hostname or "" for base in bases} | set(settings.site_hosts)
    return {_bare(host) for host in hosts if host}


def _bare(host: str) -> str:
    host = host.lower().rstrip(".")
    return host.removeprefix("www.")


def _path_key(url: str) -> str:
    parts = urlsplit(canonical_url(url))
    path = parts.path.rstrip("/") or "/"
    return f"{path}?{parts.query}" if parts.query else path


class ArticleMatcher:
    """Finds the stored article a provider's address means: the canonical URL, or the path
    on the news site (relative paths, http/https and www. differences)."""

    def __init__(self, articles: Iterable[Article], site_hosts: set[str]) -> None:
        self.site_hosts = site_hosts
        self.by_url: dict[str, Article] = {}
        self.by_place: dict[tuple[str, str], list[Article]] = defaultdict(list)
        self.by_path: dict[str, list[Article]] = defaultdict(list)
        for article in articles:
            self.by_url[article.url] = article
            host, key = _bare(urlsplit(article.url).hostname or ""), _path_key(article.url)
            self.by_place[(host, key)].append(article)
            if not site_hosts or host in site_hosts:
                self.by_path[key].append(article)

    def find(self, address: str) -> Article | None:
        try:
            if address.startswith("/") and not address.startswith("//"):
                return _only(self.by_path.get(_path_key(f"http://site.invalid{address}"), []))
            if not is_http(address):
                return None
            exact = self.by_url.get(canonical_url(address))
            if exact is not None:
                return exact
            host = _bare(urlsplit(address).hostname or "")
            return _only(self.by_place.get((host, _path_key(address)), []))
        except ValueError:  # a port out of range, a broken IPv6 literal, ...
            return None


def _only(found: list[Article]) -> Article | None:
    return found[0] if len(found) == 1 else None  # two articles at one path: say nothing


def _store(
    db: Database,
    stats: list[PageStat],
    start: datetime,
    end: datetime,
    site_hosts: set[str],
    report: FetchReport,
    now: datetime,
) -> None:
    """Give each of the week's articles the sum of its rows (tracking variants add up)."""
    with db.session() as session:
        articles = session.scalars(
            select(Article).where(Article.published_at >= start, Article.published_at < end)
        ).all()
        matcher = ArticleMatcher(articles, site_hosts)
        views: dict[int, int] = defaultdict(int)
        engaged: dict[int, int] = {}
        found: dict[int, Article] = {}
        for stat in stats:
            article = matcher.find(stat.url)
            if article is None:
                report.unmatched += 1
                continue
            found[article.id] = article
            views[article.id] = min(views[article.id] + stat.views, MAX_STORED)
            if stat.engaged_seconds is not None:
                engaged[article.id] = min(
                    engaged.get(article.id, 0) + stat.engaged_seconds, MAX_STORED
                )
        for article_id, article in found.items():
            set_stats(
                session,
                article,
                views=views[article_id],
                engaged_seconds=engaged.get(article_id),
                now=now,
            )
        report.articles_updated = len(found)


def _record(db: Database, report: FetchReport, provider: str, now: datetime) -> None:
    with db.session() as session:
        row = session.scalar(
            select(AnalyticsFetch).where(AnalyticsFetch.period_key == report.period)
        )
        if row is None:
            row = AnalyticsFetch(period_key=report.period)
            session.add(row)
        row.provider = provider
        row.fetched_at = now
        row.ok = report.ok
        row.pages = report.pages
        row.articles_updated = report.articles_updated
        row.summary = str(report)[:500]
        row.error = report.error


def last_fetch(db: Database, period: str | None = None) -> AnalyticsFetch | None:
    """The week's fetch outcome (or the latest of any week), for the desk."""
    query = select(AnalyticsFetch).order_by(AnalyticsFetch.fetched_at.desc()).limit(1)
    if period is not None:
        query = query.where(AnalyticsFetch.period_key == period)
    with db.session() as session:
        return session.scalar(query)
