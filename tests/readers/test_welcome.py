"""The welcome mail: queued with the confirmation, sent through the outbox like every reader
mail, over a real SMTP server; off when MAILER_WELCOME_MAIL is false."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mailer.core.models import OutboxMessage, Subscriber
from mailer.delivery.engine import drain_outbox
from mailer.delivery.transports import transport_from_dsn
from mailer.readers import links, subscriptions
from mailer.services import system_clock


@pytest.fixture
def settings_overrides(smtp_server):
    return {"transport": smtp_server.dsn(), "send_rate": 1000.0, "list_name": "The Weekly"}


def join_and_confirm(db, settings, now, name="Zoë") -> int:
    signup = subscriptions.Signup("reader@example.com", first_name=name)
    sid = subscriptions.subscribe(db, settings, signup, now).subscriber_id
    with db.session() as session:
        nonce = session.get(Subscriber, sid).token_nonce
    token = links.confirm_url(settings, sid, nonce, now, name).rsplit("/", 1)[1]
    assert subscriptions.confirm(db, settings, token, None, now).result == "done"
    return sid


def kinds(db) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(OutboxMessage.kind).order_by(OutboxMessage.id)))


def send_all(db, settings):
    return drain_outbox(db, settings, lambda: transport_from_dsn(settings.transport), system_clock)


def test_confirming_sends_a_welcome_over_smtp(db, settings, now, smtp_server):
    sid = join_and_confirm(db, settings, now)
    assert kinds(db) == ["confirm", "welcome"]
    report = send_all(db, settings)
    assert (report.sent, report.skipped) == (1, 1)  # the confirmation is no longer needed
    [received] = smtp_server.wait_for(1)
    welcome = received.message
    assert welcome["To"] == "reader@example.com"
    assert welcome["Subject"] == f"Welcome to The Weekly from {settings.site_name}"
    assert "Zoë" not in welcome["Subject"]
    text = welcome.get_body(("plain",)).get_content()
    html = welcome.get_body(("html",)).get_content()
    assert text.startswith("Hello Zoë,")
    assert links.sender_address(settings) in text and "/archive" in text
    with db.session() as session:
        nonce = session.get(Subscriber, sid).token_nonce
    # The links it carries are the reader's current ones: they open the preferences.
    assert links.preferences_url(settings, sid, nonce, now) in text
    assert "/unsubscribe/" in html and "<script" not in html


def test_a_name_is_escaped_in_the_html_welcome(db, settings, now):
    join_and_confirm(db, settings, now, name="O'Brien")
    with db.session() as session:
        html = session.scalar(select(OutboxMessage.html).where(OutboxMessage.kind == "welcome"))
    assert "Hello O&#39;Brien," in html


def test_confirming_twice_welcomes_once(db, settings, now):
    join_and_confirm(db, settings, now)
    sub_token = None
    with db.session() as session:
        sub = session.scalar(select(Subscriber))
        sub_token = links.confirm_url(settings, sub.id, sub.token_nonce, now).rsplit("/", 1)[1]
    assert subscriptions.confirm(db, settings, sub_token, None, now).result == "already"
    assert kinds(db) == ["confirm", "welcome"]


def test_a_reader_who_left_before_it_went_gets_no_welcome(db, settings, now, smtp_server):
    sid = join_and_confirm(db, settings, now)
    subscriptions.unsubscribe(db, sid, "link", now)
    report = send_all(db, settings)
    # The old confirmation still goes (one who left may come back with it); the welcome not.
    assert (report.sent, report.skipped) == (1, 1)
    [received] = smtp_server.wait_for(1)
    assert received.message["Subject"].startswith("Please confirm")
    with db.session() as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "welcome"))
    assert row.status == "skipped" and "welcome" in row.last_error


@pytest.mark.parametrize("settings_overrides", [{"welcome_mail": False}])
def test_no_welcome_when_turned_off(db, settings, now):
    join_and_confirm(db, settings, now)
    assert kinds(db) == ["confirm"]
