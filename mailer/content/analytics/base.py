"""What every analytics provider shares: the row it yields, the bounded call, hostile numbers.

| what happened                         | AnalyticsError says                                   |
|---------------------------------------|-------------------------------------------------------|
| connection refused, DNS, TLS          | cannot connect                                        |
| no answer in time / too slow overall  | did not answer within N s                             |
| 401 / 403                             | refused the credentials (and the provider's words)    |
| 429                                   | rate limited (Retry-After if given)                   |
| other 4xx / 5xx                       | answered HTTP N (and the provider's words)            |
| body over the size limit, not JSON    | the answer is too large / is not JSON                 |
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

import requests

from mailer.core.analytics_dsn import AnalyticsDsn
from mailer.core.http import AnswerTooLarge, CallTooSlow, read_bounded

PAGE_SIZE = 1000
MAX_COUNT = 1_000_000_000  # a week's views or seconds on one page above this is not real
MAX_URL = 2048
NAMES = {"plausible": "Plausible", "matomo": "Matomo", "ga4": "Google Analytics 4"}


class AnalyticsError(Exception):
    """The provider could not be read; the message is one sentence for an operator."""


@dataclass(frozen=True)
class PageStat:
    """One page's figures as the provider reports them; `url` may be a path."""

    url: str
    views: int
    engaged_seconds: int | None = None  # total time on the page, when the provider has it


class Deadline:
    """One time budget for a whole fetch: every page, every byte."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        left = self.ends - time.monotonic()
        if left <= 0:
            raise AnalyticsError(f"the provider did not answer within {self.seconds:g} s")
        return left


class Provider:
    """One analytics service: `fetch_page_stats` reads a period's views per page. Build one
    per fetch: `rejected` and `notes` describe the last one."""

    def __init__(self, dsn: AnalyticsDsn, *, http_timeout: float, max_bytes: int) -> None:
        self.dsn = dsn
        self.http_timeout = http_timeout
        self.max_bytes = max_bytes
        self.rejected = 0  # rows with no usable address or count, left out
        self.notes: list[str] = []

    @property
    def name(self) -> str:
        return NAMES[self.dsn.provider]

    def site_bases(self) -> list[str]:
        """The http(s) bases a relative path from this provider is read against."""
        return [self.dsn.site_url] if self.dsn.site_url else []

    def fetch_page_stats(
        self, period_start: datetime, period_end: datetime, http: requests.Session, now: datetime
    ) -> list[PageStat]:
        """Views per page over the period's days up to now, or AnalyticsError saying why not."""
        raise NotImplementedError

    def keep(self, rows: Iterable[PageStat | None]) -> Iterator[PageStat]:
        """The usable rows; the others are counted, never stored."""
        for row in rows:
            if row is None:
                self.rejected += 1
            else:
                yield row

    def stopped_early(self) -> None:
        self.notes.append(
            f"stopped after {self.dsn.pages} pages of {PAGE_SIZE} rows (the most viewed "
            "first); raise ?pages= in MAILER_ANALYTICS to read more"
        )

    def call(self, http: requests.Session, url: str, deadline: Deadline, **kwargs) -> object:
        """POST and read a JSON answer, bounded in time and size; errors become one sentence."""
        left = deadline.remaining()
        wait = min(self.http_timeout, left)
        try:
            response = http.post(url, timeout=wait, stream=True, allow_redirects=False, **kwargs)
        except requests.Timeout:
            budget = self.http_timeout if self.http_timeout < left else deadline.seconds
            raise AnalyticsError(f"{self.name} did not answer within {budget:g} s") from None
        except requests.RequestException as exc:
            raise AnalyticsError(f"cannot connect to {self.name}: {type(exc).__name__}") from None
        with response:
            body = self._read(response, deadline)
        payload = _json(body)
        if response.status_code != 200:
            raise AnalyticsError(self._refusal(response, payload))
        if payload is _NOT_JSON:
            raise AnalyticsError(f"{self.name} answered with something that is not JSON")
        return payload

    def _read(self, response: requests.Response, deadline: Deadline) -> bytes:
        try:
            return read_bounded(response, self.max_bytes, deadline.ends)
        except AnswerTooLarge:
            too_large = f"{self.name}'s answer is larger than {self.max_bytes} bytes"
            raise AnalyticsError(too_large) from None
        except CallTooSlow:
            deadline.remaining()  # past the budget: says so in its own sentence
            raise AnalyticsError(f"{self.name} stopped answering part way") from None
        except requests.RequestException:
            raise AnalyticsError(f"{self.name} stopped answering part way") from None

    def _refusal(self, response: requests.Response, payload: object) -> str:
        status = response.status_code
        words = provider_words(payload)
        said = f": {words}" if words else ""
        if status in (401, 403):
            return f"{self.name} refused the credentials (HTTP {status}){said}"
        if status == 429:
            retry = response.headers.get("Retry-After", "")
            later = f"; it asks to wait {clean_text(retry, 40)} s" if retry else ""
            return f"{self.name} rate limited us (HTTP 429){said}{later}"
        if 300 <= status < 400:
            return f"{self.name} answered with a redirect (HTTP {status}); check the DSN's host"
        return f"{self.name} answered HTTP {status}{said}"


_NOT_JSON = object()


def _json(body: bytes) -> object:
    try:
        return json.loads(body.decode("utf-8"), parse_constant=lambda _: None)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _NOT_JSON


def clean_text(value: object, limit: int = 200) -> str:
    """A provider's words made safe to show: printable, one line, short."""
    text = re.sub(r"[\x00-\x1f\x7f]+", " ", str(value)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def provider_words(payload: object) -> str:
    """The error message in the shapes providers use: {"error": "..."}, {"error": {"message":
    ...}} (Google), {"result": "error", "message": ...} (Matomo), {"error_description": ...}."""
    if not isinstance(payload, dict):
        return ""
    error = payload.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    for candidate in (payload.get("error_description"), error, payload.get("message")):
        if isinstance(candidate, str) and candidate.strip():
            return clean_text(candidate)
    return ""


def amount(value: object) -> float | None:
    """A non-negative figure from a provider (number or numeric string), or None if it is not
    one: text, negative, NaN, infinite, absurdly large, true/false."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        number = float(value) if isinstance(value, float) or abs(value) < 2**63 else math.inf
    elif isinstance(value, str) and len(value) <= 40:
        try:
            number = float(Decimal(value.strip()))
        except (InvalidOperation, OverflowError):
            return None
    else:
        return None
    if not math.isfinite(number) or number < 0 or number > MAX_COUNT:
        return None
    return number


def whole_count(value: object) -> int | None:
    """`amount` rounded to a whole number."""
    number = amount(value)
    return None if number is None else round(number)


def page_url(value: object) -> str | None:
    """A page's address as the provider wrote it, if it could be one."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_URL or re.search(r"[\x00-\x1f\x7f\s]", text):
        return None
    return text


def day_range(period_start: datetime, period_end: datetime, now: datetime) -> tuple[str, str]:
    """First and last day (inclusive, the newsroom's dates) of the period up to now."""
    end = min(period_end, now.astimezone(period_end.tzinfo))
    if end <= period_start:
        raise AnalyticsError("the week has not started yet, so there are no page views")
    last = end - timedelta(microseconds=1)
    return period_start.date().isoformat(), last.date().isoformat()
