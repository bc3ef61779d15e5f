"""The readers' core on real SQLite and PostgreSQL: no Flask, fixed time."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mailer.core.models import (
    ConsentEvent,
    NewsletterSubscription,
    OutboxMessage,
    Subscriber,
    Suppression,
)
from mailer.readers import captcha, links, privacy, subscriptions
from mailer.readers.subscriptions import Signup
from mailer.readers.suppressions import address_hash, suppress
from mailer.readers.validation import InvalidInput
from tests.fixtures.readers import altcha_token, count_confirm_mails


def signup(email="Reader@Example.com", **kw) -> Signup:
    values = {
        "ip": "203.0.113.7",
        "user_agent": "Mozilla/5.0 test",
        "origin": "https://news.example.com/story",
        "captcha_provider": "altcha",
        "captcha_result": "ok",
        "consent_text_hash": "c" * 64,
    }
    values.update(kw)
    return Signup(email=email, **values)


def outbox(db) -> list[OutboxMessage]:
    with db.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def subscriber(db, sid) -> Subscriber:
    with db.session() as session:
        return session.get(Subscriber, sid)


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[-1]


def confirm_token(db, settings, sid, issued=None) -> str:
    sub = subscriber(db, sid)
    return token_of(links.confirm_url(settings, sub.id, sub.token_nonce, issued))


def test_new_address_is_pending_with_one_queued_confirmation(db, settings, now):
    outcome = subscriptions.subscribe(db, settings, signup(first_name="Ann"), now)
    assert outcome.result == "queued"
    sub = subscriber(db, outcome.subscriber_id)
    assert (sub.email, sub.status, sub.first_name) == ("reader@example.com", "pending", "Ann")
    assert sub.email_hash == address_hash("reader@example.com")
    [mail] = outbox(db)
    assert (mail.kind, mail.recipient, mail.status) == ("confirm", "reader@example.com", "pending")
    assert mail.headers["Auto-Submitted"] == "auto-generated"
    assert mail.message_id.startswith("<") and mail.message_id.endswith("@example.com>")
    assert settings.list_name in mail.subject
    assert "/confirm/" in mail.text and "/confirm/" in mail.html
    assert "72 hours" in mail.text and "ignore this" in mail.text
    assert settings.list_frequency in mail.text
    assert "Ann" not in mail.text + mail.html + mail.subject  # nothing typed is echoed


def test_signup_consent_record_keeps_the_proof(db, settings, now):
    outcome = subscriptions.subscribe(db, settings, signup(), now)
    with db.session() as session:
        [event] = session.scalars(select(ConsentEvent))
    assert event.subscriber_id == outcome.subscriber_id
    assert (event.kind, event.ip, event.user_agent) == ("signup", "203.0.113.7", "Mozilla/5.0 test")
    assert event.form_version == subscriptions.FORM_VERSION
    assert event.consent_text_hash == "c" * 64
    assert event.origin == "https://news.example.com/story"
    assert (event.captcha_provider, event.captcha_result) == ("altcha", "ok")


def test_confirmation_mail_limits_per_address(db, settings, now):
    first = subscriptions.subscribe(db, settings, signup(), now)
    assert subscriptions.subscribe(db, settings, signup(), now + timedelta(minutes=5)).result == (
        "limited"
    )
    assert len(outbox(db)) == 1
    results = [
        subscriptions.subscribe(db, settings, signup(), now + timedelta(minutes=m)).result
        for m in (11, 22, 33)
    ]
    assert results == ["queued", "queued", "limited"]  # three a day
    assert count_confirm_mails(db, first.subscriber_id) == 3
    later = subscriptions.subscribe(db, settings, signup(), now + timedelta(days=1, minutes=1))
    assert later.result == "queued"


@pytest.mark.parametrize("status", ["confirmed", "bounced", "complained"])
def test_known_addresses_get_no_new_mail(db, settings, now, status):
    sid = subscriptions.subscribe(db, settings, signup(), now).subscriber_id
    with db.session() as session:
        session.get(Subscriber, sid).status = status
    outcome = subscriptions.subscribe(db, settings, signup(), now + timedelta(hours=1))
    assert outcome.result == "already"
    assert len(outbox(db)) == 1


def test_suppressed_address_gets_no_row_and_no_mail(db, settings, now):
    with db.session() as session:
        suppress(session, "reader@example.com", "complaint", now)
    assert subscriptions.subscribe(db, settings, signup(), now).result == "suppressed"
    assert outbox(db) == []
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_unsubscribed_reader_may_join_again_with_a_new_confirmation(db, settings, now):
    sid = subscriptions.subscribe(db, settings, signup(), now).subscriber_id
    subscriptions.confirm(db, settings, confirm_token(db, settings, sid, now), "198.51.100.1", now)
    subscriptions.unsubscribe(db, sid, "link", now)
    again = subscriptions.subscribe(db, settings, signup(), now + timedelta(hours=1))
    assert again.result == "queued"
    assert subscriber(db, sid).status == "unsubscribed"  # until the owner confirms
    link = confirm_token(db, settings, sid, now + timedelta(hours=1))
    later = now + timedelta(hours=2)
    assert subscriptions.confirm(db, settings, link, None, later).result == "done"
    assert subscriber(db, sid).status == "confirmed"


def test_a_signup_changes_no_stored_reader_until_the_owner_confirms(db, settings, now):
    """Hardening finding 5: a stranger typing a reader's address (and a name) changes nothing;
    the name rides in the signed confirm link and is stored only when that link is used."""
    sid = subscriptions.subscribe(db, settings, signup(), now).subscriber_id
    subscriptions.confirm(db, settings, confirm_token(db, settings, sid, now), None, now)
    subscriptions.unsubscribe(db, sid, "link", now)
    before = subscriber(db, sid)
    later = now + timedelta(hours=1)
    stranger = signup(first_name="Mallory", ip="198.51.100.66")
    assert subscriptions.subscribe(db, settings, stranger, later).result == "queued"
    after = subscriber(db, sid)
    assert (after.status, after.first_name, after.token_nonce, after.updated_at) == (
        "unsubscribed",
        None,
        before.token_nonce,
        before.updated_at,
    )
    mail = outbox(db)[-1]
    assert "Mallory" not in mail.text + mail.html + mail.subject
    link = token_of(re.search(r"https?://\S+/confirm/[\w.\-]+", mail.text).group(0))
    assert subscriptions.inspect_confirm(db, settings, link, later).first_name == "Mallory"
    assert subscriber(db, sid).first_name is None  # looking changes nothing
    assert subscriptions.confirm(db, settings, link, None, later).result == "done"
    assert (subscriber(db, sid).status, subscriber(db, sid).first_name) == ("confirmed", "Mallory")


def test_a_pending_readers_name_is_not_replaced_by_another_signup(db, settings, now):
    sid = subscriptions.subscribe(db, settings, signup(first_name="Ann"), now).subscriber_id
    first_link = token_of(re.search(r"\S+/confirm/[\w.\-]+", outbox(db)[-1].text).group(0))
    later = now + timedelta(hours=1)
    subscriptions.subscribe(db, settings, signup(first_name="Mallory"), later)
    assert subscriber(db, sid).first_name == "Ann"
    assert subscriptions.confirm(db, settings, first_link, None, later).result == "done"
    assert subscriber(db, sid).first_name == "Ann"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ("not-an-address", "email"),
        ("a@b", "email"),
        ("reader@example.com\r\nBcc: x@example.com", "email"),
        ("", "email"),
    ],
)
def test_bad_addresses_are_refused_with_a_reason(db, settings, now, raw, field):
    with pytest.raises(InvalidInput) as info:
        subscriptions.subscribe(db, settings, signup(raw), now)
    assert info.value.field == field and info.value.message
    assert outbox(db) == []


@pytest.mark.parametrize(
    "name",
    [
        "Ann\nBcc: x",
        "Robert'); DROP",
        "A" * 61,
        "Ann\x00",
        "Zoë\u202e",
        "<b>Ann</b>",
        "Ann\u200b",
        "\u0301Ann",
        "Ann \u0301",
    ],
)
def test_bad_names_are_refused(db, settings, now, name):
    with pytest.raises(InvalidInput) as info:
        subscriptions.subscribe(db, settings, signup(first_name=name), now)
    assert info.value.field == "first_name"


def test_good_names_are_kept(db, settings, now):
    for i, name in enumerate(["Mary-Jane", "D'Arcy", "José María", "O\u2019Neil"]):
        sid = subscriptions.subscribe(
            db, settings, signup(f"r{i}@example.com", first_name=name), now
        ).subscriber_id
        assert subscriber(db, sid).first_name == name


def test_decomposed_names_are_kept_composed(db, settings, now):
    """macOS and iOS may send NFD: the same name, stored and greeted as NFC."""
    typed = {
        "Zoe\u0308": "Zoë",
        "Jose\u0301 Mari\u0301a": "José María",
        "Nguye\u0302\u0303n": "Nguyễn",
        "\u092a\u094d\u0930\u093f\u092f\u093e": "\u092a\u094d\u0930\u093f\u092f\u093e",  # प्रिया
    }
    for i, (raw, stored) in enumerate(typed.items()):
        sid = subscriptions.subscribe(
            db, settings, signup(f"n{i}@example.com", first_name=raw), now
        ).subscriber_id
        assert subscriber(db, sid).first_name == stored
    subscriptions.update_preferences(db, sid, now, first_name="Rene\u0301e")
    assert subscriber(db, sid).first_name == "Renée"


def test_confirm_is_single_use_and_idempotent(db, settings, now):
    sid = subscriptions.subscribe(db, settings, signup(), now).subscriber_id
    token = confirm_token(db, settings, sid, now)
    assert subscriptions.inspect_confirm(db, settings, token, now).result == "ready"
    assert subscriber(db, sid).status == "pending"  # looking changes nothing
    later = now + timedelta(hours=2)
    assert subscriptions.confirm(db, settings, token, "198.51.100.1", later).result == "done"
    sub = subscriber(db, sid)
    assert (sub.status, sub.confirmed_at) == ("confirmed", later)
    assert subscriptions.confirm(db, settings, token, "198.51.100.1", later).result == "already"
    with db.session() as session:
        kinds = [e.kind for e in session.scalars(select(ConsentEvent).order_by(ConsentEvent.id))]
        confirm_event = session.scalar(select(ConsentEvent).where(ConsentEvent.kind == "confirm"))
    assert kinds == ["signup", "confirm"]
    assert (confirm_event.ip, confirm_event.at) == ("198.51.100.1", later)


def test_used_token_after_a_new_nonce_offers_a_fresh_link(db, settings, now):
    sid = subscriptions.subscribe(db, settings, signup(), now).subscriber_id
    token = confirm_token(db, settings, sid, now)
    subscriptions.confirm(db, settings, token, None, now)
    subscriptions.unsubscribe(db, sid, "link", now)
    subscriptions.subscribe(db, settings, signup(), now + timedelta(hours=1))
    # The old link was used; asking again leaves the reader as they were until they confirm.
    assert subscriptions.confirm(db, settings, token, None, now).result == "expired"
    assert subscriber(db, sid).status == "unsubscribed"


def test_expired_confirm_link_offers_a_fresh_one_under_the_same_limits(db, settings, now):
    sid = subscriptions.subscribe(db, settings, signup(), now).subscriber_id
    sub = subscriber(db, sid)
    issued = now - timedelta(hours=settings.confirm_hours, minutes=1)
    expired = token_of(links.confirm_url(settings, sid, sub.token_nonce, issued))
    assert subscriptions.inspect_confirm(db, settings, expired, now).result == "expired"
    outcome = subscriptions.confirm(db, settings, expired, None, now)
    assert (outcome.result, outcome.subscriber_id) == ("expired", sid)
    assert subscriber(db, sid).status == "pending"
    assert subscriptions.send_fresh_link(db, settings, sid, now).result == "limited"
    fresh = subscriptions.send_fresh_link(db, settings, sid, now + timedelta(minutes=11))
    assert fresh.result == "queued"
    assert len(outbox(db)) == 2


def test_tampered_or_foreign_tokens_are_bad_links(db, settings, now):
    sid = subscriptions.subscribe(db, settings, signup(), now).subscriber_id
    sub = subscriber(db, sid)
    unsubscribe_token = token_of(links.unsubscribe_url(settings, sid, sub.token_nonce))
    assert subscriptions.confirm(db, settings, unsubscribe_token, None, now).result == "bad-link"
    assert subscriptions.confirm(db, settings, "garbage", None, now).result == "bad-link"
    assert subscriptions.subscriber_for(db, settings, "preferences", unsubscribe_token) is None


def test_unsubscribe_records_how_and_is_idempotent(db, settings, now):
    sid = subscriptions.subscribe(db, settings, signup(), now).subscriber_id
    subscriptions.confirm(db, settings, confirm_token(db, settings, sid, now), None, now)
    assert subscriptions.unsubscribe(db, sid, "one-click", now, ip="192.0.2.9").result == "done"
    assert subscriptions.unsubscribe(db, sid, "link", now).result == "already"
    sub = subscriber(db, sid)
    assert (sub.status, sub.unsubscribed_at) == ("unsubscribed", now)
    with db.session() as session:
        [event] = session.scalars(select(ConsentEvent).where(ConsentEvent.kind == "withdraw"))
    assert event.detail == {
        "how": "one-click",
        "previous": "confirmed",
        "newsletters": ["weekly"],
        "all": True,
    }
    assert event.ip == "192.0.2.9"


def test_preferences_change_name_and_pause(db, settings, now):
    sid = subscriptions.subscribe(db, settings, signup(first_name="Ann"), now).subscriber_id
    subscriptions.update_preferences(db, sid, now, first_name="Annie")
    subscriptions.update_preferences(db, sid, now, paused=True)
    sub = subscriber(db, sid)
    assert (sub.first_name, sub.paused) == ("Annie", True)
    assert subscriptions.update_preferences(db, sid, now, paused=True).result == "already"
    with pytest.raises(InvalidInput):
        subscriptions.update_preferences(db, sid, now, first_name="Ann\r\nX")
    assert subscriber(db, sid).first_name == "Annie"


def test_export_holds_everything_stored(db, settings, now):
    sid = subscriptions.subscribe(db, settings, signup(first_name="Ann"), now).subscriber_id
    data = privacy.export_data(db, sid)
    assert data["subscriber"]["email"] == "reader@example.com"
    assert data["subscriber"]["first_name"] == "Ann"
    assert data["consent_events"][0]["ip"] == "203.0.113.7"
    assert data["messages"][0]["kind"] == "confirm"
    assert data["newsletters"] == []  # nothing starts before the reader confirms
    subscriptions.confirm(db, settings, confirm_token(db, settings, sid, now), None, now)
    taken = privacy.export_data(db, sid)["newsletters"]
    assert [(n["slug"], n["status"], n["subscribed_at"]) for n in taken] == [
        ("weekly", "active", now.isoformat())
    ]


def test_forget_erases_personal_data_and_blocks_reimport(db, settings, now):
    sid = subscriptions.subscribe(db, settings, signup(first_name="Ann"), now).subscriber_id
    subscriptions.confirm(db, settings, confirm_token(db, settings, sid, now), "198.51.100.1", now)
    assert privacy.forget(db, sid, now).result == "done"
    sub = subscriber(db, sid)
    assert (sub.email, sub.first_name, sub.status) == (None, None, "erased")
    assert sub.email_hash != address_hash("reader@example.com")
    with db.session() as session:
        events = list(session.scalars(select(ConsentEvent)))
        supp = session.scalar(select(Suppression))
        mails = list(session.scalars(select(OutboxMessage)))
        taken = session.scalar(select(func.count()).select_from(NewsletterSubscription))
    assert taken == 0  # which newsletters they took goes too
    assert all(e.ip is None and e.user_agent is None and e.origin is None for e in events)
    assert [e.kind for e in events][-1] == "erase"
    assert (supp.email, supp.reason) == (None, "erased")
    assert supp.email_hash == address_hash("reader@example.com")
    assert all("reader@example.com" not in (m.recipient + m.text) for m in mails)
    assert mails[0].status == "cancelled"
    assert privacy.export_data(db, sid) == {}
    assert subscriptions.subscribe(db, settings, signup(), now).result == "suppressed"
    assert privacy.forget(db, sid, now).result == "already"


def test_prune_consent_ips_after_retention(db, settings, now):
    subscriptions.subscribe(db, settings, signup("old@example.com"), now - timedelta(days=31))
    subscriptions.subscribe(db, settings, signup("new@example.com"), now - timedelta(days=29))
    assert privacy.prune_consent_ips(db, settings, now) == 1
    with db.session() as session:
        ips = sorted(
            (e.ip or "-") for e in session.scalars(select(ConsentEvent).order_by(ConsentEvent.id))
        )
    assert ips == ["-", "203.0.113.7"]
    assert privacy.prune_consent_ips(db, settings, now) == 0


def test_every_address_state_takes_the_same_statements(db, settings, now):
    """Hardening finding 7: new, subscribed, suppressed (and pending, left, limited) addresses
    run the same SQL statements in the same order, so the answer's timing tells nothing."""
    from sqlalchemy import event

    confirmed_id = subscriptions.subscribe(db, settings, signup("old@example.com"), now)
    token = confirm_token(db, settings, confirmed_id.subscriber_id, now)
    subscriptions.confirm(db, settings, token, None, now)
    left = subscriptions.subscribe(db, settings, signup("left@example.com"), now).subscriber_id
    subscriptions.unsubscribe(db, left, "link", now)
    subscriptions.subscribe(db, settings, signup("limited@example.com"), now)
    with db.session() as session:
        suppress(session, "gone@example.com", "complaint", now)
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    runs = {}
    later = now + timedelta(hours=1)
    try:
        for address in (
            "new@example.com",
            "old@example.com",
            "gone@example.com",
            "left@example.com",
        ):
            statements.clear()
            outcome = subscriptions.subscribe(db, settings, signup(address), later)
            runs[outcome.result] = list(statements)
        statements.clear()
        limited = subscriptions.subscribe(db, settings, signup("limited@example.com"), now)
        runs[limited.result] = list(statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert set(runs) == {"queued", "already", "suppressed", "limited"}
    assert len(runs["queued"]) >= 4  # the insert, the locked lookup, the consent, the mail
    (insert,) = [s for s in runs["queued"] if s.startswith("INSERT INTO subscribers")]
    assert "suppressions" in insert  # a suppressed address is never stored, in one statement
    for result, seen in runs.items():
        assert seen == runs["queued"], result
    with db.session() as session:
        emails = set(session.scalars(select(Subscriber.email)))
    assert "gone@example.com" not in emails and "new@example.com" in emails


def test_a_signup_spends_its_captcha_in_its_own_transaction(db, settings, now):
    """The CAPTCHA's single use is the signup's gate: one solution admits one signup, even
    posted at once from several threads, and a refused gate writes nothing at all."""
    result = captcha.verify(settings, None, db, altcha_token(settings, now), None, now, spend=False)
    assert result.ok and result.unspent is not None
    outcomes: list[str] = []
    start = threading.Barrier(4)

    def attempt(n: int) -> None:
        start.wait()
        gate = lambda conn: captcha.spend_in(conn, result, now)  # noqa: E731
        outcomes.append(
            subscriptions.subscribe(db, settings, signup(f"r{n}@x.org"), now, gate=gate).result
        )

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["queued"] + ["refused"] * 3
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Subscriber)) == 1
        assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 1
    assert len(outbox(db)) == 1
    assert not captcha.spend_now(db, result, now)  # spent for good
