"""Matomo Reporting API: Actions.getPageUrls over a date range, flat, page by page.

The token goes in the POST body (never the URL, where logs keep it). Answer: a JSON list of
rows with `url`, `nb_hits` (pageviews) and `sum_time_spent` (seconds); an error is
{"result": "error", "message": "..."}, often with HTTP 200.
"""

from __future__ import annotations

from datetime import datetime

import requests

from mailer.content.analytics.base import (
    PAGE_SIZE,
    AnalyticsError,
    Deadline,
    PageStat,
    Provider,
    day_range,
    page_url,
    provider_words,
    whole_count,
)


class Matomo(Provider):
    def fetch_page_stats(
        self, period_start: datetime, period_end: datetime, http: requests.Session, now: datetime
    ) -> list[PageStat]:
        first, last = day_range(period_start, period_end, now)
        deadline = Deadline(self.dsn.timeout)
        stats: list[PageStat] = []
        for page in range(self.dsn.pages):
            form = {
                "module": "API",
                "method": "Actions.getPageUrls",
                "idSite": self.dsn.site,
                "period": "range",
                "date": f"{first},{last}",
                "format": "JSON",
                "flat": "1",
                "filter_limit": str(PAGE_SIZE),
                "filter_offset": str(page * PAGE_SIZE),
                "filter_sort_column": "nb_hits",
                "filter_sort_order": "desc",
                "token_auth": self.dsn.secret,
            }
            answer = self.call(
                http,
                f"{self.dsn.base_url}/index.php",
                deadline,
                data=form,
                headers={"Accept": "application/json"},
            )
            if isinstance(answer, dict) and answer.get("result") == "error":
                words = provider_words(answer) or "no reason given"
                refused = "access" in words.lower() or "token" in words.lower()
                what = "refused the credentials" if refused else "answered with an error"
                raise AnalyticsError(f"Matomo {what}: {words}")
            if not isinstance(answer, list):
                raise AnalyticsError("Matomo's answer is not a list of page rows")
            stats.extend(self.keep(_row(row) for row in answer if not _summary(row)))
            if len(answer) < PAGE_SIZE:
                return stats
        self.stopped_early()
        return stats


def _summary(row: object) -> bool:
    """Matomo's "Others" row (label -1) sums the pages it cut; it is no page of ours."""
    return isinstance(row, dict) and "url" not in row and str(row.get("label")) in ("-1", "Others")


def _row(row: object) -> PageStat | None:
    if not isinstance(row, dict):
        return None
    url = page_url(row.get("url"))
    views = whole_count(row.get("nb_hits"))
    if url is None or views is None:
        return None
    return PageStat(url, views, whole_count(row.get("sum_time_spent")))
