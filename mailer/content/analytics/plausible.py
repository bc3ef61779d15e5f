"""Plausible Stats API v2: POST /api/v2/query, pageviews and time on page per event:page.

Answer: {"results": [{"dimensions": ["/path"], "metrics": [pageviews, time_on_page]}],
"meta": {"total_rows": N}}. time_on_page is an average in seconds; we store the total
(average x views). A server that does not know time_on_page gets asked for pageviews alone.
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
    amount,
    day_range,
    page_url,
    whole_count,
)


class Plausible(Provider):
    def site_bases(self) -> list[str]:
        return super().site_bases() or [f"https://{self.dsn.site}"]

    def fetch_page_stats(
        self, period_start: datetime, period_end: datetime, http: requests.Session, now: datetime
    ) -> list[PageStat]:
        first, last = day_range(period_start, period_end, now)
        deadline = Deadline(self.dsn.timeout)
        metrics = ["pageviews", "time_on_page"]
        stats: list[PageStat] = []
        offset = 0
        for _ in range(self.dsn.pages):
            query = {
                "site_id": self.dsn.site,
                "metrics": metrics,
                "date_range": [first, last],
                "dimensions": ["event:page"],
                "order_by": [["pageviews", "desc"]],
                "include": {"total_rows": True},
                "pagination": {"limit": PAGE_SIZE, "offset": offset},
            }
            try:
                answer = self._query(http, query, deadline)
            except AnalyticsError as exc:
                if len(metrics) == 2 and "time_on_page" in str(exc) and not stats:
                    metrics = ["pageviews"]  # an older Plausible: views alone will do
                    continue
                raise
            results = answer.get("results")
            if not isinstance(results, list):
                raise AnalyticsError("Plausible's answer has no results list")
            stats.extend(self.keep(_row(row) for row in results))
            offset += len(results)
            total = whole_count((answer.get("meta") or {}).get("total_rows"))
            if len(results) < PAGE_SIZE or (total is not None and offset >= total):
                return stats
        self.stopped_early()
        return stats

    def _query(self, http: requests.Session, query: dict, deadline: Deadline) -> dict:
        answer = self.call(
            http,
            f"{self.dsn.base_url}/api/v2/query",
            deadline,
            json=query,
            headers={"Authorization": f"Bearer {self.dsn.secret}", "Accept": "application/json"},
        )
        if not isinstance(answer, dict):
            raise AnalyticsError("Plausible's answer is not a JSON object")
        return answer


def _row(row: object) -> PageStat | None:
    if not isinstance(row, dict):
        return None
    dimensions, metrics = row.get("dimensions"), row.get("metrics")
    if not isinstance(dimensions, list) or not isinstance(metrics, list) or not metrics:
        return None
    url = page_url(dimensions[0]) if dimensions else None
    views = whole_count(metrics[0])
    if url is None or views is None:
        return None
    average = amount(metrics[1]) if len(metrics) > 1 else None
    engaged = whole_count(average * views) if average is not None else None
    return PageStat(url, views, engaged)
