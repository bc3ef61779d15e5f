"""The engine through HTTP providers: batches, a 429 that pauses every worker, mixed results."""

import time

import pytest

from mailer.readers.suppressions import is_suppressed
from tests.fixtures.http import Response
from tests.fixtures.mailing import add_subscribers, delivery_states, send_now


def send(db, settings, dsn, digest_id):
    return send_now(db, settings, digest_id, dsn, time_budget=30)


@pytest.fixture
def settings_overrides():
    return {"retry_base_seconds": 0.05, "send_rate": 1000.0, "send_concurrency": 2}


def test_postmark_batches_with_a_429_that_pauses_everyone(
    db, settings, now, approved_digest, postmark_fake, http_server
):
    add_subscribers(db, now, 120)
    http_server.expect(
        "POST",
        "/email/batch",
        Response(429, {"ErrorCode": 429, "Message": "slow down"}, {"Retry-After": "1"}),
    )
    started = time.monotonic()
    report = send(db, settings, postmark_fake.dsn, approved_digest)
    assert report.done and report.sent == 120
    assert time.monotonic() - started >= 1.0  # everyone waited for Retry-After
    sent_to = [m["To"] for call in postmark_fake.calls for m in call]
    assert sorted(sent_to) == sorted(f"reader{i}@example.com" for i in range(120))
    assert max(len(call) for call in postmark_fake.calls) <= 50


def test_postmark_mixed_results_fail_and_suppress_only_the_bad_address(
    db, settings, now, approved_digest, postmark_fake
):
    add_subscribers(db, now, 5)
    postmark_fake.inactive.add("reader3@example.com")
    report = send(db, settings, postmark_fake.dsn, approved_digest)
    assert report.done and report.sent == 4 and report.failed == 1
    rows = delivery_states(db)
    assert rows["reader3@example.com"] == "failed"
    with db.session() as session:
        assert is_suppressed(session, "reader3@example.com")
        assert not is_suppressed(session, "reader1@example.com")


def test_resend_retries_a_5xx_with_the_same_idempotency_key(
    db, settings, now, approved_digest, resend_fake, http_server
):
    add_subscribers(db, now, 3)
    http_server.expect("POST", "/emails/batch", Response(500, {"message": "boom"}))
    report = send(db, settings, resend_fake.dsn, approved_digest)
    assert report.done and report.sent == 3
    keys = [r.headers.get("Idempotency-Key") for r in http_server.requests_to("/emails/batch")]
    assert len(keys) == 2 and all(keys)
    assert sum(len(call) for call in resend_fake.calls) == 3  # nothing sent twice
