"""One careful HTTP fetch for every source: conditional, bounded in time, size and redirects."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

import requests

from mailer.content.sources.canonical import is_http

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
    http: requests.Session,
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    max_bytes: int = MAX_BYTES,
    params: dict | None = None,
    accept: str = "*/*",
) -> Fetched:
    """GET with If-None-Match/If-Modified-Since; a 304 carries no body."""
    headers = {"Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        if not is_http(current):
            raise FetchError(f"only http(s) sources are fetched, not {current!r}")
        try:
            response = http.get(
                current, headers=headers, params=params, stream=True, allow_redirects=False
            )
        except requests.Timeout:
            raise FetchError("the source did not answer in time") from None
        except requests.RequestException as exc:
            raise FetchError(f"cannot connect: {type(exc).__name__}") from None
        with response:
            if response.is_redirect:
                current = urljoin(current, response.headers.get("Location", ""))
                params = None
                continue
            if response.status_code == 304:
                return Fetched(304, b"", current, "", etag, last_modified, dict(response.headers))
            if response.status_code != 200:
                raise FetchError(f"the source answered HTTP {response.status_code}")
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"the response is larger than {max_bytes // 1024} KB")
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body.extend(chunk)
                if len(body) > max_bytes:
                    raise FetchError(f"the response is larger than {max_bytes // 1024} KB")
            return Fetched(
                200,
                bytes(body),
                current,
                response.headers.get("Content-Type", ""),
                response.headers.get("ETag"),
                response.headers.get("Last-Modified"),
                dict(response.headers),
            )
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")
