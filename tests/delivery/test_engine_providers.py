"""The engine through HTTP providers: batches, a 429 that pauses every worker, mixed results."""

import dataclasses
import time

import pytest
from sqlalchemy import select, update

from mailer.core.models import Delivery, Subscriber
from mailer.delivery.engine import claim_size
from mailer.delivery.transports import transport_from_dsn
from mailer.readers.suppressions import is_suppressed
from tests.fixtures.http import Response
from tests.fixtures.mailing import add_subscribers, delivery_states, per_reader, send_now


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
    assert max(len(call) for call in postmark_fake.calls) <= 500


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


@pytest.mark.parametrize(
    ("dsn", "batch"),
    [
        ("sendgrid://k@default", 1000),
        ("mailgun://k:mg.example.com@default", 1000),
        ("postmark://t@default", 500),
        ("resend://k@default", 100),
        ("ses://a:b@default?region=eu-west-1", 50),
    ],
)
def test_a_claim_is_the_providers_batch_within_the_lease(settings, dsn, batch):
    transport = transport_from_dsn(dsn)
    assert claim_size(settings, transport) == batch  # 1000/s x 300 s lease: the batch decides
    slow = dataclasses.replace(settings, send_rate=1.0, lease_seconds=300)
    assert claim_size(slow, transport) == min(batch, 30)  # a tenth of what a lease can send


def reader_of(db, column=Delivery.message_id):
    return per_reader(db, column)


def test_sendgrid_sends_a_digest_in_one_call_with_each_readers_own_links(
    db, settings, now, approved_digest, sendgrid_fake
):
    add_subscribers(db, now, 120)
    report = send_now(db, settings, approved_digest, sendgrid_fake.dsn, time_budget=30)
    assert report.done and report.sent == 120
    assert len(sendgrid_fake.calls) <= settings.send_concurrency  # a claim is one call
    message_ids, provider_ids = reader_of(db), reader_of(db, Delivery.provider_id)
    tokens = set()
    for mail in sendgrid_fake.delivered:
        assert mail["headers"]["Message-ID"] == message_ids[mail["to"]]
        assert provider_ids[mail["to"]] == mail["sg_message_id"]
        assert "%%" not in mail["html"] + mail["text"] + mail["subject"]
        unsubscribe = mail["headers"]["List-Unsubscribe"].split(">")[0].strip("<")
        assert unsubscribe in mail["text"]
        tokens.add(unsubscribe)
    assert len(tokens) == 120  # every reader their own link


def test_mailgun_bad_address_in_a_batch_fails_and_suppresses_only_that_reader(
    db, settings, now, approved_digest, mailgun_fake
):
    add_subscribers(db, now, 10)
    with db.session() as session:
        session.execute(
            update(Subscriber).where(Subscriber.email == "reader4@example.com").values(email="bad")
        )
    report = send_now(db, settings, approved_digest, mailgun_fake.dsn, time_budget=30)
    assert report.done and (report.sent, report.failed) == (9, 1)
    states = delivery_states(db)
    assert states.pop("bad") == "failed"
    assert set(states.values()) == {"sent"}
    with db.session() as session:
        assert is_suppressed(session, "bad")
    assert sorted(m["to"] for m in mailgun_fake.delivered) == sorted(states)


def test_ses_bulk_records_each_readers_message_id_and_rejection(
    db, settings, now, approved_digest, ses_fake
):
    add_subscribers(db, now, 60)
    with db.session() as session:
        session.execute(
            update(Subscriber)
            .where(Subscriber.email == "reader7@example.com")
            .values(email="blocked@example.org")
        )
    report = send_now(db, settings, approved_digest, ses_fake.dsn, time_budget=30)
    assert report.done and (report.sent, report.failed) == (59, 1)
    assert all(len(call["BulkEmailEntries"]) <= 50 for call in ses_fake.bulk_calls)
    provider_ids = reader_of(db, Delivery.provider_id)
    assert {m["to"]: m["message_id"] for m in ses_fake.delivered} == {
        k: v for k, v in provider_ids.items() if k != "blocked@example.org"
    }
    with db.session() as session:
        error = session.scalar(select(Delivery.last_error).where(Delivery.status == "failed"))
    assert "MESSAGE_REJECTED" in error


def test_a_batch_call_without_an_answer_leaves_its_readers_unknown_and_unsent_again(
    db, settings, now, approved_digest, sendgrid_fake, http_server
):
    add_subscribers(db, now, 30)
    http_server.expect("POST", sendgrid_fake.path, Response(202, b"", delay=1.0))
    report = send_now(db, settings, approved_digest, sendgrid_fake.dsn + "?timeout=0.3")
    assert report.unknown == 30 and report.sent == 0
    assert set(delivery_states(db).values()) == {"unknown"}  # the whole batch, no more
    assert len(http_server.requests_to(sendgrid_fake.path)) == 1  # never sent twice
