"""A provider's unsubscribe or bounce that lands between materialising and sending: skipped."""

from __future__ import annotations

import pytest

from mailer import ledger
from tests.fixtures import webhook_payloads as p
from tests.fixtures.mailing import add_subscribers, delivery_states, send_now
from tests.fixtures.webhooks import basic_auth, webhook_settings


@pytest.fixture
def settings_overrides(smtp_server, sendgrid_signer):
    return {
        "transport": smtp_server.dsn(),
        "retry_base_seconds": 0.05,
        "send_rate": 1000.0,
        **webhook_settings(sendgrid_signer.public_key),
    }


def test_webhook_unsubscribe_and_bounce_after_materialising_are_skipped(
    client, db, settings, now, approved_digest, smtp_server, sendgrid_signer
):
    add_subscribers(db, now, 3)
    ledger.materialise(db, approved_digest, now)
    body = p.postmark_subscription_change("reader1@example.com", now)
    assert client.post("/webhooks/postmark", data=body, headers=basic_auth()).status_code == 200
    body = p.sendgrid_body(p.sendgrid_event("bounce", "reader2@example.com", now))
    headers = sendgrid_signer.headers(body, now)
    assert client.post("/webhooks/sendgrid", data=body, headers=headers).status_code == 200

    report = send_now(db, settings, approved_digest)
    assert (report.sent, report.skipped) == (1, 2)
    states = delivery_states(db)
    assert states == {
        "reader0@example.com": "sent",
        "reader1@example.com": "skipped",
        "reader2@example.com": "skipped",
    }
    assert [m.rcpt_tos for m in smtp_server.messages] == [["reader0@example.com"]]
