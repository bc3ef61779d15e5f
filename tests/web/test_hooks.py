"""POST /webhooks/PROVIDER through the Flask client, on both databases."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from mailer.core.models import Subscriber, Suppression
from mailer.core.models import WebhookEvent as WebhookEventRow
from mailer.readers.suppressions import address_hash
from tests.fixtures import webhook_payloads as p
from tests.fixtures.webhooks import (
    add_subscriber,
    basic_auth,
    mailgun_signature,
    sns_headers,
    svix_headers,
    webhook_settings,
)

READER = "reader@example.com"


@pytest.fixture
def settings_overrides(sendgrid_signer) -> dict:
    return webhook_settings(sendgrid_signer.public_key)


@pytest.fixture
def reader(db, now) -> int:
    return add_subscriber(db, READER, now)


def state(db) -> tuple[str, int, int]:
    """The reader's status, how many suppressions and how many stored events there are."""
    with db.session() as session:
        status = session.scalar(
            select(Subscriber.status).where(Subscriber.email_hash == address_hash(READER))
        )
        suppressions = session.scalar(select(func.count(Suppression.id)))
        events = session.scalar(select(func.count(WebhookEventRow.id)))
        return status, suppressions, events


def test_sendgrid_bounce_suppresses_and_a_repeat_is_a_duplicate(
    client, db, now, reader, sendgrid_signer
):
    body = p.sendgrid_body(p.sendgrid_event("bounce", READER, now))
    headers = sendgrid_signer.headers(body, now)
    response = client.post("/webhooks/sendgrid", data=body, headers=headers)
    assert response.status_code == 200
    assert response.json == {
        "status": "ok",
        "applied": 1,
        "duplicates": 0,
        "stale": 0,
        "suppressed": 1,
        "confirmed": False,
    }
    assert state(db) == ("bounced", 1, 1)
    again = client.post("/webhooks/sendgrid", data=body, headers=headers)
    assert again.status_code == 200
    assert (again.json["applied"], again.json["duplicates"]) == (0, 1)
    assert state(db) == ("bounced", 1, 1)


def test_a_bad_signature_gets_400_and_changes_nothing(client, db, now, reader, sendgrid_signer):
    body = p.sendgrid_body(p.sendgrid_event("spamreport", READER, now))
    headers = sendgrid_signer.headers(b"[]", now)
    response = client.post("/webhooks/sendgrid", data=body, headers=headers)
    assert response.status_code == 400
    assert response.json["error"] == "BadSignature"
    assert "signature" in response.json["message"]
    assert state(db) == ("confirmed", 0, 0)


def test_mailgun_complaint_then_the_same_token_replayed_is_refused(client, db, now, reader):
    signature = mailgun_signature(now)
    body = p.mailgun_body(signature, "complained", READER, now)
    first = client.post("/webhooks/mailgun", data=body, content_type="application/json")
    assert first.status_code == 200
    assert state(db) == ("complained", 1, 2)  # the event and the claimed token
    replay = p.mailgun_body(signature, "unsubscribed", READER, now)
    second = client.post("/webhooks/mailgun", data=replay, content_type="application/json")
    assert second.status_code == 400
    assert "seen before" in second.json["message"]
    assert state(db) == ("complained", 1, 2)


def test_mailgun_stale_timestamp_is_refused(client, db, now, reader):
    from datetime import timedelta

    body = p.mailgun_body(mailgun_signature(now - timedelta(hours=2)), "failed", READER, now)
    response = client.post("/webhooks/mailgun", data=body, content_type="application/json")
    assert response.status_code == 400
    assert state(db) == ("confirmed", 0, 0)


def test_postmark_needs_its_basic_auth(client, db, now, reader):
    body = p.postmark_subscription_change(READER, now)
    refused = client.post("/webhooks/postmark", data=body, headers=basic_auth(password="nope"))
    assert refused.status_code == 400
    assert state(db) == ("confirmed", 0, 0)
    accepted = client.post("/webhooks/postmark", data=body, headers=basic_auth())
    assert accepted.status_code == 200
    assert state(db) == ("unsubscribed", 1, 1)


def test_an_event_older_than_the_kept_ids_is_not_applied(client, db, settings, now, reader):
    """Finding: Postmark signs no time, so a captured event could be replayed once its id was
    pruned; an event from before the kept window now changes nothing."""
    from datetime import timedelta

    old = now - timedelta(days=settings.webhook_event_days)
    body = p.postmark_bounce(READER, old)
    answer = client.post("/webhooks/postmark", data=body, headers=basic_auth())
    assert answer.status_code == 200 and answer.json["stale"] == 1 and answer.json["applied"] == 0
    assert state(db) == ("confirmed", 0, 0)
    recent = p.postmark_bounce(READER, now - timedelta(days=2))
    answer = client.post("/webhooks/postmark", data=recent, headers=basic_auth())
    assert answer.json["applied"] == 1 and state(db)[0] != "confirmed"


def test_resend_soft_bounces_suppress_on_the_third(client, db, now, reader):
    for n in range(1, 4):
        body = p.resend_event("email.bounced", READER, now, bounce_type="Transient")
        headers = svix_headers(body, now, f"msg_soft_{n}")
        response = client.post("/webhooks/resend", data=body, headers=headers)
        assert response.status_code == 200
        assert response.json["suppressed"] == (1 if n == 3 else 0)
    assert state(db) == ("bounced", 1, 3)


def test_ses_notification_through_sns(client, db, now, reader, sns_signer):
    message = sns_signer.notification(p.ses_bounce(READER, now), now, version="2")
    response = client.post("/webhooks/ses", data=json.dumps(message), headers=sns_headers(message))
    assert response.status_code == 200, response.json
    assert state(db) == ("bounced", 1, 1)


def test_sns_subscription_is_confirmed_only_when_signed(client, db, now, sns_signer, http_server):
    message = sns_signer.subscription_confirmation(now)
    forged = {**message, "Signature": sns_signer.subscription_confirmation(now)["Signature"]}
    refused = client.post("/webhooks/ses", data=json.dumps(forged), headers=sns_headers(forged))
    assert refused.status_code == 400
    assert http_server.requests_to("/") == []
    accepted = client.post("/webhooks/ses", data=json.dumps(message), headers=sns_headers(message))
    assert accepted.status_code == 200
    assert accepted.json["confirmed"] is True
    (confirm,) = http_server.requests_to("/")
    assert confirm.method == "GET"
    assert confirm.query["Action"] == ["ConfirmSubscription"]
    assert confirm.query["Token"] == [message["Token"]]


def test_unknown_provider_is_404(client):
    response = client.post("/webhooks/sparkpost", data=b"[]", content_type="application/json")
    assert response.status_code == 404
    assert "sendgrid" in response.json["message"]


def test_signed_but_malformed_json_is_400(client, db, now, sendgrid_signer):
    body = b"[{not json"
    response = client.post(
        "/webhooks/sendgrid", data=body, headers=sendgrid_signer.headers(body, now)
    )
    assert response.status_code == 400
    assert response.json["message"] == "The body is not valid JSON."
    assert state(db)[1:] == (0, 0)


def test_an_unconfigured_provider_says_which_setting_is_missing(tmp_path, migrated_database_url):
    from app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings(tmp_path, migrated_database_url))
    try:
        response = app.test_client().post(
            "/webhooks/resend", data=b"{}", content_type="application/json"
        )
        assert response.status_code == 404
        assert "MAILER_RESEND_WEBHOOK_SECRET" in response.json["message"]
    finally:
        app.extensions["mailer"].close()


def test_get_is_not_allowed(client):
    assert client.get("/webhooks/sendgrid").status_code == 405
