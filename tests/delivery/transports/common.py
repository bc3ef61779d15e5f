"""What every HTTP provider test checks the same way: throttling, outages, timeouts, bad keys."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from mailer.delivery.transports import transport_from_dsn
from mailer.delivery.transports.base import Message, TransportError
from tests.fixtures.http import Response

UNSUBSCRIBE = "<https://news.example.com/u/tok-{n}>, <mailto:unsub+{n}@example.com>"


def message(n: int = 1, recipient: str | None = None, **changes) -> Message:
    values = {
        "sender": "The Digest <digest@example.com>",
        "recipient": recipient or f"reader{n}@example.com",
        "subject": "This week's top stories",
        "text": f"Hello reader {n}",
        "html": f"<p>Hello reader {n}</p>",
        "message_id": f"<d{n}.x@example.com>",
        "headers": {
            "List-Unsubscribe": UNSUBSCRIBE.format(n=n),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": "The Digest <digest.example.com>",
        },
        "metadata": {"delivery": str(n)},
    }
    values.update(changes)
    return Message(**values)


def build(dsn: str):
    import requests

    return transport_from_dsn(dsn, http=requests.Session())


def check_throttled(fake, dsn: str) -> None:
    """429 with Retry-After in seconds, then as an HTTP date: retryable, throttled, delay kept."""
    fake.server.expect(
        "POST", fake.path, Response(429, {"message": "slow down"}, {"Retry-After": "7"})
    )
    with pytest.raises(TransportError) as caught:
        build(dsn).send([message()])
    assert (caught.value.retryable, caught.value.throttled, caught.value.retry_after) == (
        True,
        True,
        7.0,
    )
    import time

    later = formatdate(time.time() + 120, usegmt=True)
    fake.server.expect("POST", fake.path, Response(429, {"message": "x"}, {"Retry-After": later}))
    with pytest.raises(TransportError) as caught:
        build(dsn).send([message()])
    assert 100 < caught.value.retry_after <= 120


def check_outage(fake, dsn: str) -> None:
    fake.server.expect("POST", fake.path, Response(500, {"message": "internal error"}))
    with pytest.raises(TransportError) as caught:
        build(dsn).send([message()])
    assert caught.value.retryable and not caught.value.throttled
    assert "500" in str(caught.value)


def check_timeout_is_unknown(fake, dsn: str, retryable: bool) -> None:
    fake.server.expect("POST", fake.path, Response(202, {}, delay=1.0))
    sep = "&" if "?" in dsn else "?"
    results = build(dsn + f"{sep}timeout=0.2").send([message(1)])
    assert [r.status for r in results] == ["unknown"]
    assert all(r.retryable is retryable for r in results)


def check_bad_key(fake, dsn: str, key: str) -> None:
    with pytest.raises(TransportError, match="credentials") as caught:
        build(dsn.replace(key, "wrong-key")).send([message()])
    assert not caught.value.retryable


def check_refused_connection(dsn_template: str) -> None:
    from tests.fixtures.smtp import free_port

    with pytest.raises(TransportError) as caught:
        build(dsn_template.format(port=free_port())).send([message()])
    assert caught.value.retryable


def check_huge_answer_is_unknown(fake, dsn: str) -> None:
    """Through the app's own session: an answer too large to read means 'maybe sent'."""
    from mailer.core.http import BoundedSession

    huge = Response(200, {"padding": "x" * 5000})
    fake.server.expect("POST", fake.path, huge)
    with BoundedSession(timeout=5, max_bytes=1000) as http:
        results = transport_from_dsn(dsn, http=http).send([message(1)])
    assert [r.status for r in results] == ["unknown"]
