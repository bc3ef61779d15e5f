"""Calling a provider the way refresh does: week 2026-W48 in London, asked on its Wednesday."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from mailer.content.analytics.base import PageStat, Provider
from mailer.content.analytics.ga4 import GoogleAnalytics
from mailer.content.analytics.matomo import Matomo
from mailer.content.analytics.plausible import Plausible
from mailer.content.calendar import period_bounds
from mailer.core.analytics_dsn import parse_analytics_dsn
from mailer.core.http import BoundedSession

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/London")
CLASSES = {"plausible": Plausible, "matomo": Matomo, "ga4": GoogleAnalytics}


def provider(dsn: str, *, http_timeout: float = 5.0, max_bytes: int = 5_000_000) -> Provider:
    parsed = parse_analytics_dsn(dsn)
    return CLASSES[parsed.provider](parsed, http_timeout=http_timeout, max_bytes=max_bytes)


def fetch(source: Provider, period: str = "2026-W48", now: datetime = NOW) -> list[PageStat]:
    start, end = (moment.astimezone(ZONE) for moment in period_bounds(period, ZONE))
    with BoundedSession(5.0) as http:
        return source.fetch_page_stats(start, end, http, now)
