"""Guardrails while sending: complaints and hard bounces that arrive mid-send pause it.

Real parts: the Postmark HTTP fake as the transport and Postmark webhooks posted to the app,
the SMTP fixture for refusals at hand-off, both databases.
"""

from __future__ import annotations

import dataclasses

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from mailer.cli import main
from mailer.cli.base import AppContext
from mailer.core.errors import Conflict
from mailer.core.models import AuditEntry, Delivery, Digest, Subscriber
from mailer.core.models import WebhookEvent as WebhookEventRow
from mailer.delivery.guardrails import Limits, Reading, verdict
from mailer.services import build, system_clock
from tests.fixtures import webhook_payloads as p
from tests.fixtures.mailing import add_subscribers, delivery_states, per_reader, send_now
from tests.fixtures.webhooks import basic_auth, webhook_settings
from tests.web.test_hooks_delivery import desk_page

LIMITS = Limits(window=1000, min_sample=300, complaint_percent=0.1, bounce_percent=3.0)


@pytest.mark.parametrize(
    ("reading", "trips"),
    [
        (Reading(sample=3, complaints=1, hard_bounces=1), None),  # 1 of 3: too few to judge
        (Reading(sample=299, complaints=5, hard_bounces=50), None),  # still under the sample
        (Reading(sample=1000, complaints=1, hard_bounces=30), None),  # at the limits, not past
        (Reading(sample=1000, complaints=2, hard_bounces=0), "complaint rate 0.20%"),
        (Reading(sample=400, complaints=0, hard_bounces=13), "hard-bounce rate 3.25%"),
    ],
)
def test_a_rate_is_judged_only_over_enough_deliveries_and_only_past_its_limit(reading, trips):
    reason = verdict(reading, LIMITS)
    if trips is None:
        assert reason is None
    else:
        assert reason.startswith(f"guardrail: {trips}") and "resume by hand" in reason


def test_a_window_of_zero_turns_the_guardrails_off():
    off = Limits(window=0, min_sample=1, complaint_percent=0.1, bounce_percent=3.0)
    assert verdict(Reading(sample=1000, complaints=1000, hard_bounces=1000), off) is None


def live_cli(settings):
    """`mailer ...` on the system clock, as an operator's shell runs it beside a send."""
    services = build(settings, clock=system_clock)
    runner = CliRunner()

    def invoke(*args: str, input: bytes | None = None):
        return runner.invoke(main, list(args), obj=AppContext(services), input=input)

    return invoke, services


def guardrail_audit(db) -> list[tuple[str, str, str]]:
    with db.session() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "pause")).all()
        return [(r.actor, r.target, (r.detail or {}).get("reason", "")) for r in rows]


@pytest.fixture
def settings_overrides(postmark_fake, sendgrid_signer):
    return {
        "transport": postmark_fake.dsn,
        "send_rate": 1000.0,
        "guardrail_window": 40,
        "guardrail_min_sample": 10,
        "guardrail_complaint_percent": 6.0,
        **webhook_settings(sendgrid_signer.public_key),
    }


def complain(client, db, now, address: str) -> None:
    """Postmark's SpamComplaint webhook about the digest message this reader was sent."""
    provider_id = per_reader(db, Delivery.provider_id)[address]
    body = p.postmark_bounce(address, now, "SpamComplaint", MessageID=provider_id)
    assert client.post("/webhooks/postmark", data=body, headers=basic_auth()).status_code == 200


def digest_row(db, digest_id) -> tuple[str, str | None]:
    with db.session() as session:
        digest = session.get(Digest, digest_id)
        return digest.status, digest.status_reason


def test_complaints_from_provider_webhooks_pause_a_send_until_an_editor_resumes_it(
    client, db, settings, now, approved_digest, postmark_fake
):
    add_subscribers(db, now, 40)
    assert send_now(db, settings, approved_digest, limit=5).sent == 5
    complain(client, db, now, "reader0@example.com")
    # 1 complaint among 5 handed over: 20%, but 5 is under the sample of 10, so it goes on
    assert digest_row(db, approved_digest) == ("sending", None)
    # judged again once 10 more were handed over: 1 of 20 is 5%, under the 6% limit
    assert send_now(db, settings, approved_digest, limit=15).sent == 15
    assert digest_row(db, approved_digest) == ("sending", None)
    complain(client, db, now, "reader7@example.com")
    status, reason = digest_row(db, approved_digest)
    assert status == "paused"
    assert reason.startswith("guardrail: complaint rate 10.00% (2 of the last 20 deliveries)")
    key = f"digest:{db_period(db, approved_digest)}"
    assert guardrail_audit(db) == [("guardrail", key, reason)]

    # the engine refuses to go on by itself, and says why
    with pytest.raises(Conflict, match="is paused \\(guardrail: complaint rate"):
        send_now(db, settings, approved_digest)
    assert len(delivery_states(db)) == 40 and sum(len(c) for c in postmark_fake.calls) == 20

    cli, services = live_cli(settings)
    try:
        shown = cli("digest", "status", str(approved_digest))
        assert shown.exit_code == 0 and "(guardrail: complaint rate 10.00%" in shown.output
        assert reason in desk_page(client, db, now, approved_digest).replace("&#39;", "'")

        resumed = cli("digest", "resume", str(approved_digest))
        assert resumed.exit_code == 0, resumed.output
        # the window starts again at the resume: judged after 10 more, the 2 complaints of the
        # 20 before it would make 2 of 30 (6.7%, past 6%), but only the 10 new ones count
        report = send_now(db, settings, approved_digest, limit=10)
        assert (report.sent, report.paused) == (10, "")
        assert digest_row(db, approved_digest) == ("sending", None)
        report = send_now(db, settings, approved_digest)
        assert (report.sent, report.done, report.paused) == (10, True, "")
    finally:
        services.close()
    assert set(delivery_states(db).values()) == {"sent"}


def db_period(db, digest_id) -> str:
    with db.session() as session:
        return session.get(Digest, digest_id).period_key


def test_refusals_at_hand_off_count_as_hard_bounces(
    db, settings, now, approved_digest, smtp_server
):
    add_subscribers(db, now, 30)
    for i in (3, 6):
        smtp_server.script.rcpt_replies[f"reader{i}@example.com"] = "550 5.1.1 No such user"
    # the default hand-off group (10): a group is marked handed over before it is tried, and
    # the window counts only settled deliveries, so the refusals are judged among 10 tried
    one_connection = dataclasses.replace(settings, send_concurrency=1)
    assert one_connection.handoff_group == 10
    report = send_now(db, one_connection, approved_digest, dsn=smtp_server.dsn())
    # 2 of the first 10 refused: 20% > 3%; the send stops there, not after 20 failures in a row
    assert report.paused.startswith("guardrail: hard-bounce rate 20.00% (2 of the last 10")
    assert digest_row(db, approved_digest)[0] == "paused"
    assert 10 <= len(smtp_server.messages) + 2 < 30
    with db.session() as session:
        refused = session.execute(
            select(Subscriber.email)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .join(WebhookEventRow, WebhookEventRow.delivery_id == Delivery.id)
            .where(WebhookEventRow.kind == "rejected")
        ).all()
    assert sorted(e for (e,) in refused) == ["reader3@example.com", "reader6@example.com"]
