"""A provider's unsubscribe or bounce that lands between materialising and sending: skipped."""

from __future__ import annotations

import pytest

from mailer.delivery import ledger
from tests.fixtures import webhook_payloads as p
from tests.fixtures.mailing import add_subscribers, delivery_states, message_ids, send_now
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


def desk_page(client, db, now, digest_id) -> str:
    from mailer.editions.accounts import add_editor
    from tests.fixtures.editors import FAST_COST, PASSWORD, signed_in

    with db.session() as session:
        add_editor(session, "ed@example.com", PASSWORD, "editor", now, cost=FAST_COST)
    return signed_in(client).get(f"/admin/digests/{digest_id}").get_data(as_text=True)


def test_provider_feedback_is_counted_against_the_digest_it_is_about(
    client, cli, db, settings, now, approved_digest, smtp_server, sendgrid_signer
):
    from mailer.delivery.status import digest_status
    from mailer.readers.suppressions import is_suppressed

    add_subscribers(db, now, 3)
    assert send_now(db, settings, approved_digest).sent == 3
    sent = message_ids(db)
    events = [
        p.sendgrid_event(
            "delivered", "reader0@example.com", now, **{"smtp-id": sent["reader0@example.com"]}
        ),
        p.sendgrid_event(
            "delivered", "reader1@example.com", now, **{"smtp-id": sent["reader1@example.com"]}
        ),
        p.sendgrid_event(
            "bounce", "reader2@example.com", now, **{"smtp-id": sent["reader2@example.com"]}
        ),
        # about a message of another digest or a test send: applied, not counted here
        p.sendgrid_event("spamreport", "reader0@example.com", now, **{"smtp-id": "<other@x>"}),
    ]
    body = p.sendgrid_body(*events)
    headers = sendgrid_signer.headers(body, now)
    assert client.post("/webhooks/sendgrid", data=body, headers=headers).status_code == 200

    with db.session() as session:  # the complaint about another message still suppresses
        assert is_suppressed(session, "reader0@example.com")
    status = digest_status(db, approved_digest, now)
    assert status.feedback == {"delivered": 2, "bounce_hard": 1}
    shown = cli("digest", "status", "2026-W48")
    assert "provider feedback: delivered 2, hard bounce 1" in shown.output
    signed_in_desk = desk_page(client, db, now, approved_digest)
    assert "Provider feedback: delivered: 2 · hard bounce: 1" in signed_in_desk
