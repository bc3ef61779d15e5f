"""The one HTTP session for CAPTCHA checks, providers' APIs and SNS: every call ends, and small.

requests' `timeout` bounds each socket read, not the call: a server that sends a byte every few
seconds holds a call open for as long as it likes, and a large answer is read into memory
whole. Here a call that does not ask to stream is read in chunks against one deadline (its
`timeout`, connect included) and a size cap, and redirects are not followed unless asked for,
so an answer can never send us to a host nobody checked.
"""

from __future__ import annotations

import time

import requests
import urllib3
from requests.adapters import HTTPAdapter

MAX_ANSWER_BYTES = 4 * 1024 * 1024  # a provider's batch answer is far below this


class AnswerTooLarge(requests.RequestException):
    """The answer is larger than the session's cap; nothing of it is used."""


class CallTooSlow(requests.ReadTimeout):
    """The whole call took longer than its timeout, however steadily bytes were arriving."""


class BoundedSession(requests.Session):
    """A requests session whose every call has a deadline, a size cap and no silent redirect."""

    def __init__(self, timeout: float, max_bytes: int = MAX_ANSWER_BYTES) -> None:
        super().__init__()
        self.default_timeout = timeout
        self.max_bytes = max_bytes
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        self.headers["User-Agent"] = "newsletter-mailer/0.1"

    def request(self, method, url, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", self.default_timeout)
        kwargs["allow_redirects"] = False  # Session.get sets True; a 3xx is an answer here
        if kwargs.get("stream"):
            return super().request(method, url, **kwargs)  # the caller bounds what it reads
        deadline = time.monotonic() + _seconds(kwargs["timeout"])
        response = super().request(method, url, stream=True, **kwargs)
        try:
            body = read_bounded(response, self.max_bytes, deadline)
        except BaseException:
            response.close()  # part read: this connection cannot be reused
            raise
        # requests' own slots for a read body: the connection goes back to the pool for reuse
        response._content, response._content_consumed = body, True
        response.raw.release_conn()
        return response


def read_bounded(response: requests.Response, max_bytes: int, deadline: float) -> bytes:
    """A streamed answer read whole, or an error once it passes the size cap or the deadline."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise AnswerTooLarge(f"the answer is larger than {max_bytes} bytes")
    body = bytearray()
    # read1 returns what has arrived, so the deadline is checked between trickles
    while chunk := _next_chunk(response):
        body.extend(chunk)
        if len(body) > max_bytes:
            raise AnswerTooLarge(f"the answer is larger than {max_bytes} bytes")
        if time.monotonic() > deadline:
            raise CallTooSlow("the answer did not arrive within the timeout")
    return bytes(body)


def _next_chunk(response: requests.Response) -> bytes:
    try:
        return response.raw.read1(64 * 1024, decode_content=True)
    except urllib3.exceptions.ReadTimeoutError:
        raise CallTooSlow("the answer stopped arriving") from None
    except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
        raise requests.ConnectionError(f"the answer broke off ({type(exc).__name__})") from None


def _seconds(timeout: float | tuple[float, float] | None) -> float:
    if timeout is None:
        return float("inf")
    if isinstance(timeout, tuple):
        return sum(t for t in timeout if t is not None)
    return float(timeout)
