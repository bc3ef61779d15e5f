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


def test_old_and_foreign_stamps_are_refused_with_a_message(join_post, db, settings, now):
    old = join_post(stamp=aged_stamp(settings.secret_key, now, seconds=3 * 3600))
    forged = join_post(stamp="eyJ0IjoxfQ.forged")
    other_kind = join_post(stamp=aged_stamp(settings.secret_key, now, kind="embed"))
    assert old.status_code == forged.status_code == other_kind.status_code == 400
    assert TOO_OLD.split(".")[0] in old.get_data(as_text=True)
    assert counts(db) == (0, 0)


def test_a_quick_person_with_a_captcha_is_not_refused_but_noted(join_post, db, settings, now):
    """Autofill and a solved CAPTCHA in under a second: the CAPTCHA decides, the speed is kept."""
    response = join_post(stamp=aged_stamp(settings.secret_key, now, seconds=0))
    assert response.status_code == 200 and "Check your inbox" in response.get_data(as_text=True)
    with db.session() as session:
        result = session.scalar(select(ConsentEvent.captcha_result))
    assert result == "ok fast=0.0s"
    two_seconds = join_post(
        email="two@example.com", stamp=aged_stamp(settings.secret_key, now, seconds=2)
    )
    assert two_seconds.status_code == 200, two_seconds.get_data(as_text=True)[-2500:]
    assert counts(db) == (2, 2)


@pytest.mark.parametrize("settings_overrides", [{"captcha": "none"}])
def test_without_a_captcha_a_too_fast_form_is_refused_with_every_other_mistake(
    join_post, db, settings, now
):
    fast = join_post(stamp=aged_stamp(settings.secret_key, now, seconds=0), email="nope")
    html = fast.get_data(as_text=True).replace("&#39;", "'")
    assert fast.status_code == 400
    assert TOO_FAST.split(".")[0] in html and 'id="email-error"' in html
    assert join_post(stamp=aged_stamp(settings.secret_key, now, seconds=2)).status_code == 200
    assert counts(db) == (1, 1)


def test_a_signup_redirects_so_a_reload_posts_nothing(join_post, client, db):
    response = join_post(follow=False)
    assert (response.status_code, response.location) == (303, "/join/sent")
    assert "reader@example.com" not in response.location
    page = client.get(response.location)
    assert page.status_code == 200 and "Check your inbox" in page.get_data(as_text=True)
    assert counts(db) == (1, 1)  # the reload is a GET of the landing page


def test_every_mistake_is_marked_at_once_and_the_first_is_focused(join_post, db):
    response = join_post(email="not an address", first_name="Ann<script>", consent=None)
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    for name in ("email", "first_name", "consent"):
        assert f'id="{name}-error"' in html
        assert f'aria-invalid="true" aria-describedby="{name}-error"' in html
    assert html.count("autofocus") == 1
    assert 'aria-describedby="email-error" autofocus' in html
    assert "Please fix the 3 fields marked below." in html
    assert "<title>Fix the form: Join" in html
    assert counts(db) == (0, 0)


def test_a_solved_captcha_is_kept_while_other_fields_are_fixed(join_post, client, db):
    first = join_post(email="not an address")
    html = first.get_data(as_text=True)
    assert first.status_code == 400
    assert "no need to do it again" in html and "<altcha-widget" not in html
    kept = hidden_fields(html)["captcha_kept"]
    second = join_post(email="reader@example.com", altcha="", captcha_kept=kept)
    assert second.status_code == 200 and "Check your inbox" in second.get_data(as_text=True)
    with db.session() as session:
        assert session.scalar(select(ConsentEvent.captcha_result)) == "ok-kept"
    # Spent on the signup it let through: it never admits another one.
    replay = join_post(email="other@example.com", altcha="", captcha_kept=kept)
    assert replay.status_code == 400 and 'id="captcha-error"' in replay.get_data(as_text=True)
    assert counts(db) == (1, 1)


def test_a_kept_captcha_survives_several_mistakes_but_not_its_expiry(
    join_post, client, db, settings, now
):
    from mailer.readers import captcha

    kept = hidden_fields(join_post(email="bad").get_data(as_text=True))["captcha_kept"]
    again = join_post(email="still bad", altcha="", captcha_kept=kept)
    assert hidden_fields(again.get_data(as_text=True))["captcha_kept"] == kept
    assert captcha.pass_is_live(settings, db, kept, now)
    later = now + captcha.PASS_LIFETIME
    assert not captcha.pass_is_live(settings, db, kept, later)
    assert captcha.redeem_pass(settings, db, kept, later).detail == "invalid"
    forged = kept[:-3] + ("AAA" if not kept.endswith("AAA") else "BBB")
    assert not captcha.pass_is_live(settings, db, forged, now)
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
