"""POST /join through the real app: CSRF, honeypot, timing, validation, limits, no enumeration."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest
from sqlalchemy import func, select

from mailer.core.models import ConsentEvent, OutboxMessage, Subscriber
from mailer.delivery.transports import transport_from_dsn, transport_options
from mailer.delivery.transports.base import Message
from mailer.readers import subscriptions
from mailer.readers.suppressions import suppress
from mailer.web.forms import TOO_FAST, TOO_OLD
from tests.fixtures.readers import aged_stamp, altcha_token, hidden_fields


@pytest.fixture
def settings_overrides():
    return {"captcha": "altcha"}


def counts(db) -> tuple[int, int]:
    with db.session() as session:
        subs = session.scalar(select(func.count()).select_from(Subscriber))
        mails = session.scalar(select(func.count()).select_from(OutboxMessage))
    return subs, mails


def test_join_page_is_accessible_and_self_contained(client, settings):
    response = client.get("/join")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for field in ("email", "first_name", "consent"):
        assert f'<label for="{field}"' in html and f'id="{field}"' in html
    assert 'aria-live="assertive"' in html
    assert 'aria-hidden="true"' in html and 'name="website"' in html and 'tabindex="-1"' in html
    assert "protected by a CAPTCHA" in html
    assert subscriptions.consent_text(settings) in html
    assert 'name="viewport"' in html
    assert "http://" not in html.split("<body>")[1].replace(settings.base_url, "")
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]


def test_a_signup_queues_one_confirmation_and_records_consent(join_post, db, settings):
    response = join_post(first_name="Ann")
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    assert counts(db) == (1, 1)
    with db.session() as session:
        sub = session.scalar(select(Subscriber))
        event = session.scalar(select(ConsentEvent))
    assert (sub.status, sub.first_name, sub.origin) == ("pending", "Ann", "form")
    assert event.consent_text_hash == subscriptions.consent_hash(
        subscriptions.consent_text(settings)
    )
    assert (event.captcha_provider, event.captcha_result) == ("altcha", "ok")
    assert event.ip == "127.0.0.1"


def test_every_address_state_gets_the_same_answer(join_post, db, settings, now):
    with db.session() as session:
        suppress(session, "blocked@example.com", "complaint", now)
    first = join_post(email="new@example.com").get_data(as_text=True)
    answers = {
        "new": first,
        "pending": join_post(email="new@example.com").get_data(as_text=True),
        "suppressed": join_post(email="blocked@example.com").get_data(as_text=True),
    }
    sid = subscriptions.subscribe(
        db, settings, subscriptions.Signup("done@example.com"), now
    ).subscriber_id
    with db.session() as session:
        session.get(Subscriber, sid).status = "confirmed"
    answers["confirmed"] = join_post(email="done@example.com").get_data(as_text=True)
    subscriptions.unsubscribe(db, sid, "link", now)
    answers["unsubscribed"] = join_post(email="done@example.com").get_data(as_text=True)
    assert len(set(answers.values())) == 1, answers.keys()


def test_csrf_is_enforced(client, settings, now, db):
    data = {
        "email": "reader@example.com",
        "consent": "y",
        "stamp": aged_stamp(settings.secret_key, now),
    }
    response = client.post("/join", data=data)
    assert response.status_code == 400
    assert "Form expired" in response.get_data(as_text=True)
    assert counts(db) == (0, 0)


def test_honeypot_is_dropped_behind_the_normal_answer(join_post, db):
    response = join_post(website="http://spam.example")
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    assert counts(db) == (0, 0)


def test_too_fast_and_too_old_forms_are_refused_with_a_message(join_post, db, settings, now):
    fast = join_post(stamp=aged_stamp(settings.secret_key, now, seconds=1))
    old = join_post(stamp=aged_stamp(settings.secret_key, now, seconds=3 * 3600))
    forged = join_post(stamp="eyJ0IjoxfQ.forged")
    other_kind = join_post(stamp=aged_stamp(settings.secret_key, now, kind="embed"))
    assert fast.status_code == old.status_code == forged.status_code == 400
    assert other_kind.status_code == 400
    assert TOO_FAST.split(".")[0] in fast.get_data(as_text=True).replace("&#39;", "'")
    assert TOO_OLD.split(".")[0] in old.get_data(as_text=True)
    assert counts(db) == (0, 0)


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"email": "not an address"}, "email", "email"),
        ({"email": ""}, "email", "Enter your email address"),
        ({"consent": None}, "consent", "Tick the box"),
        ({"first_name": "Ann<script>"}, "first_name", "letters, spaces"),
        ({"first_name": "A" * 61}, "first_name", "60 characters"),
    ],
)
def test_invalid_input_is_a_400_with_field_errors(join_post, db, fields, field, text):
    response = join_post(**fields)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error"' in html and text in html
    assert f'aria-describedby="{field}-error"' in html
    assert "<script>" not in html
    assert counts(db) == (0, 0)


@pytest.mark.parametrize(
    ("email", "name"),
    [
        ("reader@example.com\r\nBcc: victim@example.com", None),
        ("reader@example.com", "Ann\r\nBcc: victim@example.com"),
        ("reader@example.com", "Ann\nSubject: x"),
        ("reader@example.com\x00", None),
        ("reader@example.com", "Ann\x1b[31m"),
        ("reader@example.com", "Ann\u2028Bcc"),
    ],
)
def test_control_characters_never_reach_a_header(join_post, db, email, name):
    response = join_post(email=email, first_name=name)
    assert response.status_code == 400
    assert counts(db) == (0, 0)


def test_a_name_typed_decomposed_joins_as_the_same_name(join_post, db):
    response = join_post(first_name="Zoe\u0308 Rene\u0301e")
    assert response.status_code == 200
    with db.session() as session:
        assert session.scalar(select(Subscriber.first_name)) == "Zoë Renée"


def test_the_queued_confirmation_has_only_our_headers(join_post, db, settings):
    join_post(email="Reader@Example.com", first_name="Ann")
    with db.session() as session:
        row = session.scalar(select(OutboxMessage))
    transport = transport_from_dsn(settings.transport, transport_options(settings))
    [result] = transport.send(
        [
            Message(
                sender=settings.from_addr,
                recipient=row.recipient,
                subject=row.subject,
                text=row.text,
                html=row.html,
                message_id=row.message_id,
                headers=row.headers,
            )
        ]
    )
    assert result.accepted
    path = transport.folder / result.provider_id
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert mail["To"] == "reader@example.com"
    assert sorted(mail.keys()) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Auto-Submitted",
            "X-Auto-Response-Suppress",
            "MIME-Version",
            "Content-Type",
        ]
    )
    assert "Ann" not in path.read_text()


@pytest.mark.parametrize(
    "settings_overrides", [{"captcha": "none", "signup_rate_limits": "2/minute"}]
)
def test_per_ip_rate_limit_answers_429_with_a_readable_page(join_post, db):
    assert join_post(email="a@example.com").status_code == 200
    assert join_post(email="b@example.com").status_code == 200
    response = join_post(email="c@example.com")
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "Too many requests" in html and "Traceback" not in html
    assert counts(db)[0] == 2


def test_per_address_limit_holds_mail_but_not_the_answer(join_post, db):
    for _ in range(3):
        assert "Check your inbox" in join_post().get_data(as_text=True)
    assert counts(db) == (1, 1)


def test_get_join_never_changes_state(client, db):
    client.get("/join?email=reader@example.com&consent=y")
    assert counts(db) == (0, 0)


def test_hidden_fields_helper_reads_the_form(client):
    fields = hidden_fields(client.get("/join").get_data(as_text=True))
    assert {"csrf_token", "stamp"} <= set(fields)


@pytest.mark.parametrize("answer", [None, "", "bm90IGFsdGNoYQ==", "replayed"])
def test_no_subscription_without_a_verified_captcha(join_post, client, db, settings, now, answer):
    if answer == "replayed":
        answer = altcha_token(settings, now)
        assert join_post(email="first@example.com", altcha=answer).status_code == 200
    response = join_post(email="second@example.com", altcha=answer)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert 'id="captcha-error"' in html and "CAPTCHA check did not pass" in html
    with db.session() as session:
        emails = set(session.scalars(select(Subscriber.email)))
    assert "second@example.com" not in emails
