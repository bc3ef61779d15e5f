"""`mailer subscribers add|remove|forget|show` on real databases, through the readers' rules."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.core.models import (
    ConsentEvent,
    Delivery,
    Digest,
    OutboxMessage,
    Subscriber,
    Suppression,
)
from mailer.readers import links, subscriptions
from mailer.readers.subscriptions import Signup
from mailer.readers.suppressions import address_hash, suppress
from tests.fixtures.mailing import queue_mail


def stored(db, email) -> Subscriber | None:
    with db.session() as session:
        return session.scalar(
            select(Subscriber).where(Subscriber.email_hash == address_hash(email))
        )


def events(db, subscriber_id) -> list[ConsentEvent]:
    with db.session() as session:
        return list(
            session.scalars(
                select(ConsentEvent)
                .where(ConsentEvent.subscriber_id == subscriber_id)
                .order_by(ConsentEvent.id)
            )
        )


def outbox(db) -> list[OutboxMessage]:
    with db.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def reader_signup(db, settings, at, email="reader@example.com", ip="203.0.113.7") -> int:
    """A reader who joined through the form at `at` and confirmed a minute later."""
    sid = subscriptions.subscribe(
        db, settings, Signup(email=email, first_name="Ann", ip=ip, captcha_provider="altcha"), at
    ).subscriber_id
    with db.session() as session:
        nonce = session.get(Subscriber, sid).token_nonce
    token = links.confirm_url(settings, sid, nonce, at).rsplit("/", 1)[-1]
    confirmed = subscriptions.confirm(
        db, settings, token, "198.51.100.4", at + timedelta(minutes=1)
    )
    assert confirmed.result == "done"
    return sid


def test_add_goes_through_double_opt_in(cli, db, now):
    result = cli("subscribers", "add", " New.Reader@Example.com ", "--name", "Mary-Jane")
    assert result.exit_code == 0, result.output
    assert "new.reader@example.com added as pending" in result.output
    sub = stored(db, "new.reader@example.com")
    assert (sub.status, sub.first_name, sub.origin) == ("pending", "Mary-Jane", "operator")
    assert sub.confirmed_at is None
    [mail] = outbox(db)
    assert (mail.kind, mail.recipient, mail.status) == (
        "confirm",
        "new.reader@example.com",
        "pending",
    )
    assert "/confirm/" in mail.text
    [event] = events(db, sub.id)
    assert (event.kind, event.at, event.ip) == ("signup", now, None)
    assert event.detail == {"channel": "operator", "newsletters": ["weekly"]}
    assert event.form_version == "operator"
    assert (event.captcha_provider, event.captcha_result) == ("none", "operator")
    assert event.origin.startswith("operator ")


def test_add_confirmed_stores_a_confirmed_reader_and_notes_the_operator(cli, db, now):
    result = cli("subscribers", "add", "ann@example.com", "--name", "Ann", "--confirmed")
    assert result.exit_code == 0, result.output
    assert "ann@example.com added as a confirmed subscriber" in result.output
    sub = stored(db, "ann@example.com")
    assert (sub.status, sub.confirmed_at, sub.first_name) == ("confirmed", now, "Ann")
    assert outbox(db) == []
    kinds = [
        (e.kind, e.detail["channel"], e.detail["confirmed_by_operator"]) for e in events(db, sub.id)
    ]
    assert kinds == [("signup", "operator", True), ("confirm", "operator", True)]
    assert all(e.detail["operator"] for e in events(db, sub.id))


@pytest.mark.parametrize("flag", [(), ("--confirmed",)])
def test_add_refuses_a_suppressed_address(cli, db, now, flag):
    with db.session() as session:
        suppress(session, "bounced@example.com", "bounce", now, source="webhook")
    result = cli("subscribers", "add", "Bounced@example.com", *flag)
    assert result.exit_code == 1
    assert "bounced@example.com is on the suppression list (bounce, since" in result.output
    assert "Nothing was added; `mailer suppressions remove` lifts it" in result.output
    assert "Traceback" not in result.output
    assert stored(db, "bounced@example.com") is None
    assert outbox(db) == []


def test_add_refuses_an_erased_address(cli, db, settings, now):
    reader_signup(db, settings, now - timedelta(days=2))
    assert cli("subscribers", "forget", "reader@example.com", "--yes").exit_code == 0
    result = cli("subscribers", "add", "reader@example.com", "--confirmed")
    assert result.exit_code == 1
    assert "reader@example.com was erased on request" in result.output
    assert "It cannot be added again." in result.output
    with db.session() as session:
        assert session.scalar(select(Subscriber.id).where(Subscriber.email.is_not(None))) is None


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("not-an-address",), "'EMAIL'"),
        (("reader@example.com\r\nBcc: x@example.com",), "'EMAIL'"),
        (("",), "Enter your email address"),
        (("ann@example.com", "--name", "Ann\nBcc: x"), "'--name'"),
        (("ann@example.com", "--name", "<b>Ann</b>"), "Use letters, spaces"),
        (("ann@example.com", "--name", "A" * 61, "--confirmed"), "60 characters"),
    ],
)
def test_add_with_bad_input_exits_2_with_a_sentence(cli, db, args, words):
    result = cli("subscribers", "add", *args)
    assert result.exit_code == 2
    assert words in result.output
    assert "Traceback" not in result.output
    with db.session() as session:
        assert session.scalar(select(Subscriber.id)) is None
    assert outbox(db) == []


def test_re_adding_a_subscriber_says_its_state_and_changes_nothing(cli, db, settings, now):
    sid = reader_signup(db, settings, now - timedelta(days=3))
    mails_before = len(outbox(db))
    result = cli("subscribers", "add", "READER@example.com", "--name", "Bob")
    assert result.exit_code == 0, result.output
    assert "reader@example.com is already a subscriber (confirmed since 2026-11-22" in result.output
    assert "nothing changed" in result.output
    sub = stored(db, "reader@example.com")
    assert (sub.id, sub.status, sub.first_name) == (sid, "confirmed", "Ann")
    assert len(outbox(db)) == mails_before
    pending = cli("subscribers", "add", "p@example.com")
    assert pending.exit_code == 0
    again = cli("subscribers", "add", "p@example.com", "--confirmed")
    assert again.exit_code == 0
    assert "already a subscriber (waiting for confirmation since" in again.output
    assert stored(db, "p@example.com").status == "pending"
    assert [m.recipient for m in outbox(db)].count("p@example.com") == 1


def test_re_adding_an_unsubscribed_reader_is_refused(cli, db, settings, now):
    sid = reader_signup(db, settings, now - timedelta(days=3))
    subscriptions.unsubscribe(db, sid, "link", now - timedelta(days=1))
    mails_before = len(outbox(db))
    result = cli("subscribers", "add", "reader@example.com", "--confirmed")
    assert result.exit_code == 1
    assert "already stored (unsubscribed since 2026-11-24" in result.output
    assert "Only the reader can join again" in result.output
    assert stored(db, "reader@example.com").status == "unsubscribed"
    assert len(outbox(db)) == mails_before


def test_remove_unsubscribes_and_records_the_operator(cli, db, settings, now):
    sid = reader_signup(db, settings, now - timedelta(days=3))
    result = cli("subscribers", "remove", "Reader@Example.com")
    assert result.exit_code == 0, result.output
    assert "reader@example.com is unsubscribed" in result.output
    sub = stored(db, "reader@example.com")
    assert (sub.status, sub.unsubscribed_at) == ("unsubscribed", now)
    withdrawal = events(db, sid)[-1]
    assert (withdrawal.kind, withdrawal.at) == ("withdraw", now)
    assert withdrawal.detail == {
        "how": "operator",
        "previous": "confirmed",
        "newsletters": ["weekly"],
        "all": True,
    }
    again = cli("subscribers", "remove", "reader@example.com")
    assert again.exit_code == 0
    assert "already unsubscribed since" in again.output
    assert [e.kind for e in events(db, sid)].count("withdraw") == 1


@pytest.mark.parametrize("command", ["remove", "forget", "show"])
def test_unknown_or_bad_addresses(cli, db, now, command):
    unknown = cli("subscribers", command, "nobody@example.com")
    assert unknown.exit_code == 1
    assert "nobody@example.com is not a subscriber." in unknown.output
    bad = cli("subscribers", command, "not-an-address")
    assert bad.exit_code == 2
    assert "Invalid value for 'EMAIL'" in bad.output
    assert "Traceback" not in unknown.output + bad.output


@pytest.mark.parametrize("command", ["remove", "show"])
def test_a_suppressed_address_is_not_a_subscriber(cli, db, now, command):
    with db.session() as session:
        suppress(session, "blocked@example.com", "complaint", now, source="webhook")
    blocked = cli("subscribers", command, "blocked@example.com")
    assert blocked.exit_code == 1
    assert "is not a subscriber. blocked@example.com is on the suppression list" in blocked.output


def test_forget_erases_an_address_held_only_as_a_suppression(cli, db, settings, now):
    with db.session() as session:
        suppress(session, "blocked@example.com", "complaint", now, source="webhook")
    queue_mail(db, settings, now, "blocked@example.com", kind="test", subject="[TEST] Weekly")
    declined = cli("subscribers", "forget", "blocked@example.com", input="n\n")
    assert declined.exit_code == 1
    assert "blocked@example.com is only on the suppression list. Erase it" in declined.output
    result = cli("subscribers", "forget", "blocked@example.com", "--yes")
    assert result.exit_code == 0, result.output
    assert "blocked@example.com erased" in result.output
    with db.session() as session:
        supp = session.scalar(select(Suppression))
    assert (supp.email, supp.reason, supp.source) == (None, "erased", "operator")
    assert supp.email_hash == address_hash("blocked@example.com")
    [mail] = outbox(db)
    assert (mail.recipient, mail.subject, mail.status) == ("erased", "erased", "cancelled")
    again = cli("subscribers", "forget", "blocked@example.com", "--yes")
    assert again.exit_code == 1 and "was erased on request" in again.output


def test_forget_asks_first_then_erases(cli, db, settings, now):
    sid = reader_signup(db, settings, now - timedelta(days=3))
    declined = cli("subscribers", "forget", "reader@example.com", input="n\n")
    assert declined.exit_code == 1
    assert "Erase reader@example.com (confirmed) for good?" in declined.output
    assert stored(db, "reader@example.com").status == "confirmed"
    result = cli("subscribers", "forget", "reader@example.com", input="y\n")
    assert result.exit_code == 0, result.output
    assert "reader@example.com erased" in result.output
    with db.session() as session:
        sub = session.get(Subscriber, sid)
        supp = session.scalar(select(Suppression))
    assert (sub.email, sub.first_name, sub.status) == (None, None, "erased")
    assert (supp.email, supp.reason, supp.source) == (None, "erased", "operator")
    assert supp.email_hash == address_hash("reader@example.com")
    trail = events(db, sid)
    assert all(e.ip is None and e.user_agent is None and e.origin is None for e in trail)
    assert (trail[-1].kind, trail[-1].detail) == ("erase", {"by": "operator"})
    gone = cli("subscribers", "show", "reader@example.com")
    assert gone.exit_code == 1
    assert "reader@example.com was erased on request" in gone.output


def test_forget_with_yes_does_not_ask(cli, db, now):
    cli("subscribers", "add", "p@example.com")
    result = cli("subscribers", "forget", "p@example.com", "--yes")
    assert result.exit_code == 0, result.output
    assert "for good?" not in result.output
    [mail] = outbox(db)
    assert (mail.recipient, mail.status) == ("erased", "cancelled")


def add_delivery(db, now, sid, period, status):
    with db.session() as session:
        digest = Digest(period_key=period, status="sent", created_at=now, updated_at=now)
        session.add(digest)
        session.flush()
        session.add(
            Delivery(
                digest_id=digest.id,
                subscriber_id=sid,
                status=status,
                created_at=now,
                updated_at=now,
                sent_at=now if status == "sent" else None,
            )
        )


def test_show_masks_expired_ips_and_counts_deliveries(cli, db, settings, now):
    joined = now - timedelta(days=settings.ip_retention_days + 5)
    sid = reader_signup(db, settings, joined)
    subscriptions.update_preferences(db, sid, now - timedelta(days=1), paused=True, ip="192.0.2.50")
    add_delivery(db, now - timedelta(days=14), sid, "2026-W46", "sent")
    add_delivery(db, now - timedelta(days=7), sid, "2026-W47", "skipped")
    data = json.loads(cli("subscribers", "show", "reader@example.com", "--json").output)
    assert (data["email"], data["first_name"], data["status"]) == (
        "reader@example.com",
        "Ann",
        "confirmed",
    )
    assert data["paused"] is True and data["suppressed"] is None
    assert data["created_at"] == joined.isoformat()
    assert data["confirmed_at"] == (joined + timedelta(minutes=1)).isoformat()
    records = [(e["kind"], e["ip"], e["ip_expired"]) for e in data["consent_events"]]
    assert records == [
        ("signup", None, True),
        ("confirm", None, True),
        ("preferences", "192.0.2.50", False),
    ]
    assert data["deliveries"]["total"] == 2
    assert data["deliveries"]["by_status"] == {"sent": 1, "skipped": 1}
    assert [d["digest"] for d in data["deliveries"]["recent"]] == ["2026-W47", "2026-W46"]
    with db.session() as session:  # the stored IPs are still there: only the display masks them
        assert session.scalar(select(ConsentEvent.ip).where(ConsentEvent.kind == "signup"))
    text = cli("subscribers", "show", "reader@example.com")
    assert text.exit_code == 0, text.output
    assert "203.0.113.7" not in text.output and "198.51.100.4" not in text.output
    assert f"(dropped after {settings.ip_retention_days} days)" in text.output
    assert "192.0.2.50" in text.output
    assert "paused:       yes" in text.output
    assert "deliveries:   2 (1 sent, 1 skipped)" in text.output
    assert "suppressed:   no" in text.output


def test_show_a_suppressed_operator_added_reader(cli, db, now):
    cli("subscribers", "add", "ann@example.com", "--confirmed")
    with db.session() as session:
        suppress(session, "ann@example.com", "bounce", now, source="webhook")
    result = cli("subscribers", "show", "ann@example.com")
    assert result.exit_code == 0, result.output
    assert "suppressed:   yes (bounce, since 2026-11-25" in result.output
    assert "joined via:   operator" in result.output
    assert "deliveries:   0" in result.output
    assert "confirmed_by_operator=True" in result.output


def test_show_lists_the_newsletters_a_reader_took_and_left(cli, db, now):
    from mailer.readers import newsletters

    newsletters.add(db, now, slug="daily", name="Daily")
    cli("subscribers", "add", "ann@example.com", "--confirmed", "--newsletter", "daily")
    cli("subscribers", "add", "ann@example.com", "--confirmed")  # already stored: unchanged
    sid = json.loads(cli("subscribers", "show", "ann@example.com", "--json").output)
    assert [(n["slug"], n["status"]) for n in sid["newsletters"]] == [("daily", "active")]
    with db.session() as session:
        from mailer.core.models import Subscriber

        reader = session.scalar(select(Subscriber.id).where(Subscriber.email == "ann@example.com"))
        daily = newsletters.find(session, "daily").id
        newsletters.deactivate(session, reader, [daily], now)
    text = cli("subscribers", "show", "ann@example.com")
    assert "newsletters:  daily (left)" in text.output, text.output
