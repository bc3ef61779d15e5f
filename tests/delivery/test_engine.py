import time

import pytest
from sqlalchemy import select

from mailer.core.models import Delivery, Digest, OutboxMessage, Subscriber
from mailer.delivery import engine, ledger
from mailer.delivery import status as send_status
from mailer.delivery.transports import transport_from_dsn, transport_options
from mailer.delivery.transports.base import SendResult
from mailer.editions import lifecycle
from mailer.readers.suppressions import is_suppressed
from mailer.services import system_clock
from tests.fixtures.mailing import add_subscribers, delivery_states, queue_mail, send_now


@pytest.fixture
def settings_overrides(smtp_server):
    return {
        "transport": smtp_server.dsn(),
        "retry_base_seconds": 0.05,
        "send_rate": 1000.0,
        "send_concurrency": 2,
    }


run = send_now
statuses = delivery_states


def test_every_confirmed_subscriber_gets_exactly_one_message(
    db, settings, now, approved_digest, smtp_server
):
    add_subscribers(db, now, 30)
    add_subscribers(db, now, 3, domain="pending.example.com", status="pending")
    report = run(db, settings, approved_digest)
    assert report.done and report.sent == 30
    got = [m.rcpt_tos for m in smtp_server.messages]
    assert sorted(r[0] for r in got) == sorted(f"reader{i}@example.com" for i in range(30))
    assert all(len(r) == 1 for r in got)
    with db.session() as session:
        assert session.get(Digest, approved_digest).status == "sent"


def test_a_second_run_sends_nothing_more(db, settings, now, approved_digest, smtp_server):
    add_subscribers(db, now, 5)
    run(db, settings, approved_digest)
    with pytest.raises(Exception, match="only an approved digest"):
        run(db, settings, approved_digest)
    assert len(smtp_server.messages) == 5


def test_headers_of_a_digest_message(db, settings, now, approved_digest, smtp_server):
    add_subscribers(db, now, 1)
    run(db, settings, approved_digest)
    msg = smtp_server.messages[0].message
    assert msg["To"] == "reader0@example.com"
    assert msg["Message-ID"].endswith("@example.com>")
    unsubscribe = msg["List-Unsubscribe"]
    # one-click link only: no MAILER_UNSUBSCRIBE_ADDRESS is set, so no mailto: nobody reads
    assert unsubscribe.startswith("<http://localhost/unsubscribe/") and "mailto:" not in unsubscribe
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["List-Id"] and msg["Feedback-ID"].startswith("2026-W48:")
    assert msg["Precedence"] == "bulk" and msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"
    html = msg.get_body(("html",)).get_content()
    assert "Hello ReaderA," in html and "%%" not in html


def test_transient_451_is_retried_with_the_same_message_id(
    db, settings, now, approved_digest, smtp_server
):
    add_subscribers(db, now, 1)
    smtp_server.script.data_replies.append("451 4.3.0 try again later")
    report = run(db, settings, approved_digest)
    assert report.done
    assert len(smtp_server.messages) == 1
    with db.session() as session:
        row = session.scalar(select(Delivery))
    assert row.status == "sent" and row.attempts == 2
    assert smtp_server.messages[0].message["Message-ID"] == row.message_id


def test_permanent_550_fails_and_suppresses(db, settings, now, approved_digest, smtp_server):
    add_subscribers(db, now, 3)
    smtp_server.script.rcpt_replies["reader1@example.com"] = "550 5.1.1 no such user"
    report = run(db, settings, approved_digest)
    assert report.done
    assert statuses(db, approved_digest)["reader1@example.com"] == "failed"
    with db.session() as session:
        assert is_suppressed(session, "reader1@example.com")
    assert len(smtp_server.messages) == 2


def test_421_mid_session_reconnects_and_delivers_all(
    db, settings, now, approved_digest, smtp_server
):
    add_subscribers(db, now, 6)
    smtp_server.script.close_with_421_after = 2
    report = run(db, settings, approved_digest)
    assert report.done
    assert sorted(statuses(db, approved_digest).values()) == ["sent"] * 6
    assert len(smtp_server.messages) == 6
    assert smtp_server.connections >= 3


def test_a_drop_after_data_is_unknown_never_resent(db, settings, now, approved_digest, smtp_server):
    add_subscribers(db, now, 1)
    smtp_server.script.drop_after_data = 1
    report = run(db, settings, approved_digest)
    assert report.unknown == 1
    assert statuses(db, approved_digest) == {"reader0@example.com": "unknown"}
    assert len(smtp_server.messages) == 1  # it did arrive; we just never heard
    assert ledger.reset(db, approved_digest, "unknown", now) == 1


def test_unsubscribed_after_materialising_is_skipped(
    db, settings, now, approved_digest, smtp_server
):
    add_subscribers(db, now, 3)
    ledger.materialise(db, approved_digest, now)
    with db.session() as session:
        sub = session.scalar(select(Subscriber).where(Subscriber.email == "reader2@example.com"))
        sub.status = "unsubscribed"
    report = run(db, settings, approved_digest)
    assert report.skipped == 1
    assert statuses(db, approved_digest)["reader2@example.com"] == "skipped"
    assert "reader2@example.com" not in [m.rcpt_tos[0] for m in smtp_server.messages]


def test_repeated_failures_pause_the_digest(db, settings, now, approved_digest, smtp_server):
    import dataclasses

    settings = dataclasses.replace(settings, pause_after_errors=3, send_concurrency=1)
    add_subscribers(db, now, 10)
    for i in range(10):
        smtp_server.script.rcpt_replies[f"reader{i}@example.com"] = "550 5.7.1 blocked"
    report = run(db, settings, approved_digest)
    assert report.paused and "3 failures in a row" in report.paused
    with db.session() as session:
        digest = session.get(Digest, approved_digest)
        assert digest.status == "paused" and "failures" in digest.status_reason
        # the pause lands mid-group (MAILER_HANDOFF_GROUP is 10): the rest was marked handed
        # over but never sent, so it goes back to pending with its attempt undone
        rest = session.execute(
            select(Delivery.status, Delivery.attempts, Delivery.handed_at).where(
                Delivery.digest_id == approved_digest, Delivery.status != "failed"
            )
        ).all()
    assert len(rest) == 7 and len(smtp_server.messages) == 0
    assert set(rest) == {("pending", 0, None)}
    assert list(statuses(db, approved_digest).values()).count("failed") == 3


def test_limit_stops_early_and_a_later_run_resumes(db, settings, now, approved_digest, smtp_server):
    add_subscribers(db, now, 10)
    first = run(db, settings, approved_digest, limit=4)
    assert not first.done and first.sent == 4
    second = run(db, settings, approved_digest)
    assert second.done and second.sent == 6
    assert len({m.rcpt_tos[0] for m in smtp_server.messages}) == 10


def test_expired_claims_are_reclaimed_or_marked_unknown(db, settings, now, approved_digest):
    from datetime import timedelta

    add_subscribers(db, now, 2)
    lifecycle.start(db, approved_digest, "system", now)
    ledger.materialise(db, approved_digest, now)
    token, claimed, _ = ledger.claim_deliveries(db, approved_digest, 2, now, settings)
    ledger.mark_handed(db, Delivery, [claimed[0].id], token, now)
    later = now + timedelta(hours=1)
    assert ledger.reclaim_expired(db, Delivery, later, idempotent=False) == 2
    with db.session() as session:
        rows = {d.id: d.status for d in session.scalars(select(Delivery))}
    assert rows[claimed[0].id] == "unknown" and rows[claimed[1].id] == "pending"
    # the stale claim can no longer record anything
    stale = ledger.Outcome(claimed[1].id, "sent")
    assert ledger.record(db, Delivery, token, [stale], later) == 0


def test_outbox_drains_before_the_digest(db, settings, now, approved_digest, smtp_server):
    add_subscribers(db, now, 2)
    queue_mail(db, settings, now, "new@example.com", subject="Please confirm")
    run(db, settings, approved_digest)
    first = smtp_server.messages[0]
    assert first.rcpt_tos == ["new@example.com"]
    assert first.message["Subject"] == "Please confirm"
    assert len(smtp_server.messages) == 3


def test_outbox_skips_mail_nobody_should_get_any_more(db, settings, now, smtp_server):
    from mailer.readers.suppressions import suppress

    def queue(kind, to, sid=None):
        queue_mail(db, settings, now, to, kind=kind, subject=f"{kind} for {to}", subscriber_id=sid)

    add_subscribers(db, now, 3, status="pending")
    with db.session() as session:
        subs = {s.email: s.id for s in session.scalars(select(Subscriber))}
    for email, sid in subs.items():
        queue("confirm", email, sid)
    queue("test", "bounced@example.com")
    queue("test", "editor@example.com")
    # after queueing: one reader confirms, one is removed, one address bounces
    with db.session() as session:
        session.get(Subscriber, subs["reader1@example.com"]).status = "confirmed"
        session.delete(session.get(Subscriber, subs["reader2@example.com"]))
        suppress(session, "bounced@example.com", "bounce", now)

    transport = lambda: transport_from_dsn(settings.transport, transport_options(settings))  # noqa: E731
    report = engine.drain_outbox(db, settings, transport, system_clock)
    assert report.sent == 2 and report.skipped == 3
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == [
        "editor@example.com",
        "reader0@example.com",
    ]
    with db.session() as session:
        skipped = {
            m.recipient: m.last_error
            for m in session.scalars(select(OutboxMessage).where(OutboxMessage.status == "skipped"))
        }
    assert skipped == {
        "reader1@example.com": "the subscriber is confirmed; the confirmation is no longer needed",
        "reader2@example.com": "the subscriber was removed before the confirmation went out",
        "bounced@example.com": "the address is on the suppression list",
    }


def test_status_counts_and_rate(db, settings, now, approved_digest):
    add_subscribers(db, now, 4)
    ledger.materialise(db, approved_digest, now)
    status = send_status.digest_status(db, approved_digest, now)
    assert status.counts == {"pending": 4}
    assert status.eta_seconds is None


def test_materialise_is_idempotent(db, now, approved_digest):
    add_subscribers(db, now, 5)
    add_subscribers(db, now, 2, domain="left.example.com", status="unsubscribed")
    assert ledger.materialise(db, approved_digest, now) == 5
    assert ledger.materialise(db, approved_digest, now) == 0
    add_subscribers(db, now, 1, domain="late.example.com")
    assert ledger.materialise(db, approved_digest, now) == 1
    assert ledger.counts(db, Delivery) == {"pending": 6}


def test_a_claim_records_only_rows_it_holds(db, settings, now, approved_digest):
    add_subscribers(db, now, 2)
    lifecycle.start(db, approved_digest, "system", now)
    ledger.materialise(db, approved_digest, now)
    token, claimed, _ = ledger.claim_deliveries(db, approved_digest, 2, now, settings)
    assert len(claimed) == 2
    again, none, _ = ledger.claim_deliveries(db, approved_digest, 2, now, settings)
    assert none == []  # held rows are not claimed twice
    forged = [ledger.Outcome(c.id, "sent") for c in claimed]
    assert ledger.record(db, Delivery, again, forged, now) == 0
    assert ledger.record(db, Delivery, token, forged, now) == 2
    assert ledger.counts(db, Delivery) == {"sent": 2}


def test_a_claim_takes_the_smallest_due_ids_first_attempts_and_retries_alike(
    db, settings, now, approved_digest
):
    from datetime import timedelta

    from sqlalchemy import update

    add_subscribers(db, now, 8)
    lifecycle.start(db, approved_digest, "system", now)
    ledger.materialise(db, approved_digest, now)
    with db.session() as session:
        ids = session.scalars(select(Delivery.id).order_by(Delivery.id)).all()
        due = {ids[0]: now - timedelta(seconds=1), ids[3]: now, ids[5]: now + timedelta(hours=1)}
        for row_id, when in due.items():
            session.execute(
                update(Delivery).where(Delivery.id == row_id).values(next_attempt_at=when)
            )
    taken = []
    for size in (3, 3, 3):
        _, claimed, _ = ledger.claim_deliveries(db, approved_digest, size, now, settings)
        taken.append([c.id for c in claimed])
    # ids[5] is not due yet; the rest in id order, due retries among the first attempts
    assert taken == [ids[0:3], [ids[3], ids[4], ids[6]], [ids[7]]]


class ScriptedTransport:
    """A test double of our own Transport protocol: answers from a script, records calls."""

    name = "scripted"
    max_batch = 10
    per_message = False
    idempotent = False
    holds_connection = False

    def __init__(self, answers, calls):
        self.answers, self.calls = answers, calls

    def send(self, messages, idempotency_key=None):
        results = []
        for message in messages:
            self.calls.append((time.monotonic(), message.recipient, message.message_id))
            answer = self.answers.pop(0) if self.answers else None
            results.append(answer or SendResult(message.recipient, "sent", provider_id="ok"))
        return results

    def close(self):
        pass


def test_429_with_retry_after_pauses_every_worker(db, settings, now, approved_digest):
    import dataclasses

    settings = dataclasses.replace(settings, send_concurrency=3, retry_base_seconds=0.01)
    add_subscribers(db, now, 12)
    calls: list = []
    answers = [SendResult("x", "failed", retryable=True, retry_after=1.0, error="429")]
    report = engine.send_digest(
        db, settings, approved_digest, lambda: ScriptedTransport(answers, calls), system_clock
    )
    assert report.done and report.sent == 12
    first = calls[0][0]
    # the whole first batch went in one call; everything after waited out the Retry-After
    later = [t for t, *_ in calls[1:] if t > first + 0.01]
    assert later and min(later) >= first + 0.95
    retried = [c for c in calls if c[1] == calls[0][1]]
    assert len(retried) == 2 and retried[0][2] == retried[1][2]  # same Message-ID


def test_cancel_from_outside_stops_the_run(db, settings, now, approved_digest):
    add_subscribers(db, now, 3)
    lifecycle.start(db, approved_digest, "system", now)
    lifecycle.cancel(db, approved_digest, "system", now, "cancelled in a test")
    calls: list = []
    with pytest.raises(Exception, match="cancelled"):
        engine.send_digest(
            db, settings, approved_digest, lambda: ScriptedTransport([], calls), system_clock
        )
    assert calls == []


def test_time_left_counts_from_the_start_of_a_young_send(db, approved_digest, now):
    from datetime import timedelta

    from mailer.core.models import Delivery, Digest

    add_subscribers(db, now, 300)
    ledger.materialise(db, approved_digest, now)
    with db.session() as session:
        session.get(Digest, approved_digest).send_started_at = now - timedelta(minutes=1)
        rows = session.scalars(select(Delivery).order_by(Delivery.id).limit(100)).all()
        for row in rows:
            row.status, row.sent_at = "sent", now - timedelta(seconds=30)
    status = send_status.digest_status(db, approved_digest, now)
    assert status.rate_per_minute == 100.0  # 100 in the one minute it has run, not 100 / 5
    assert status.eta_seconds == 120.0  # 200 left at 100 a minute


def test_a_reader_who_left_and_asks_again_gets_the_confirmation(db, settings, now, smtp_server):
    """Hardening finding 5: the stored reader stays unsubscribed until they confirm, and the
    confirmation mail that lets them do so still goes out."""
    from mailer.readers import subscriptions

    add_subscribers(db, now, 1, status="unsubscribed")
    email = "reader0@example.com"
    assert (
        subscriptions.subscribe(db, settings, subscriptions.Signup(email), now).result == "queued"
    )
    transport = lambda: transport_from_dsn(settings.transport, transport_options(settings))  # noqa: E731
    assert engine.drain_outbox(db, settings, transport, system_clock).sent == 1
    assert [m.rcpt_tos[0] for m in smtp_server.messages] == [email]
