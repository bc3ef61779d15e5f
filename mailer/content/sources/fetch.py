"""One careful HTTP fetch for every source: conditional, bounded in time, size and redirects,
and only to public addresses (or hosts an operator allowlisted), checked on every redirect."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from urllib.parse import urljoin

import requests

from mailer.content.sources.canonical import is_http
from mailer.content.sources.client import Budget, SourceSession
from mailer.content.sources.guard import Refused, Unresolved

MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5


class FetchError(Exception):
    """The source could not be read; the message is what an operator needs to know."""


@dataclass(frozen=True)
class Fetched:
    status: int  # 200 or 304
    body: bytes
    url: str
    content_type: str
    etag: str | None
    last_modified: str | None
    headers: dict[str, str]


def fetch(
    http: SourceSession,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = MAX_BYTES,
    params: dict | None = None,
    accept: str = "*/*",
    budget: Budget | None = None,
) -> Fetched:
    """GET with If-None-Match/If-Modified-Since; a 304 carries no body.

    Everything, redirects included, happens within one deadline: the session's, or that of
    the entered `budget` a caller shares between several fetches (a WordPress site's pages)."""
    if not isinstance(http, SourceSession):
        raise TypeError("sources are fetched only through a SourceSession")
    owned = budget is None
    budget = budget or http.budget()
    try:
        with budget if owned else nullcontext(budget):
            return _follow(http, url, budget, etag, last_modified, max_bytes, params, accept)
    except Refused as exc:
        raise FetchError(f"refused: {exc}") from None
    except ValueError as exc:  # requests' InvalidURL and urllib's parse errors alike
        raise FetchError(f"not a usable URL: {exc}") from None
    except (requests.RequestException, OSError) as exc:
        if budget.expired or budget.left() <= 0:
            raise _late(budget) from None
        if isinstance(exc, Unresolved):
            raise FetchError(str(exc)) from None
        if isinstance(exc, requests.Timeout | TimeoutError):
            raise FetchError("the source did not answer in time") from None
        raise FetchError(f"cannot connect: {type(exc).__name__}") from None


def _late(budget: Budget) -> FetchError:
    return FetchError(f"the source took longer than {budget.seconds:g} s in all")


def _follow(http, url, budget, etag, last_modified, max_bytes, params, accept) -> Fetched:
    headers = {"Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        if not is_http(current):
            raise FetchError(f"only http(s) sources are fetched, not {current!r}")
        if budget.expired or budget.left() <= 0:
            raise _late(budget)
        budget.pin(current)  # every hop's host is resolved and checked before connecting
        seconds = min(http.read_timeout, budget.left())
        response = http.get(
            current,
            headers=headers,
            params=params,
            stream=True,
            allow_redirects=False,
            timeout=(seconds, seconds),
        )
        with response:
            if response.is_redirect:
                current = urljoin(current, response.headers.get("Location", ""))
                params = None
                continue
            if response.status_code == 304:
                return Fetched(304, b"", current, "", etag, last_modified, dict(response.headers))
            if response.status_code != 200:
                raise FetchError(f"the source answered HTTP {response.status_code}")
            body = _body(response, max_bytes)
            if budget.expired:  # the cut may look like the end of a body without a length
                raise _late(budget)
            return Fetched(
                200,
                body,
                current,
                response.headers.get("Content-Type", ""),
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
                dict(response.headers),
            )
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _body(response: requests.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"the response is larger than {max_bytes // 1024} KB")
    body = bytearray()
    for chunk in response.iter_content(64 * 1024):
        body.extend(chunk)
        if len(body) > max_bytes:
            raise FetchError(f"the response is larger than {max_bytes // 1024} KB")
    return bytes(body)
