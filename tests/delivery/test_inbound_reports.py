"""`mailer inbound` with bounce (RFC 3464) and complaint (RFC 5965) reports, as an MTA returns
them to MAILER_BOUNCE_ADDRESS after a real SMTP send."""

import pytest
from sqlalchemy import select

from mailer.core.models import Subscriber, Suppression
from mailer.delivery.status import digest_status
from tests.fixtures.mailing import add_subscribers, message_ids, send_now


@pytest.fixture
def settings_overrides(smtp_server):
    return {
        "transport": smtp_server.dsn(),
        "send_rate": 1000.0,
        "bounce_address": "bounces@news.example.com",
    }


def dsn(message_id: str, recipient: str, action="failed", status="5.1.1") -> bytes:
    """A delivery status notification in the shape Postfix sends."""
    return f"""From: MAILER-DAEMON@mx.example.net (Mail Delivery System)
To: bounces@news.example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

I'm sorry to have to inform you that your message could not be delivered.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Wed, 25 Nov 2026 12:00:00 +0000

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected

--B1
Content-Type: text/rfc822-headers

From: The Weekly Digest <digest@example.com>
To: {recipient}
Subject: This week
Message-ID: {message_id}

--B1--
""".replace("\n", "\r\n").encode()


def arf(message_id: str, recipient: str = "[redacted]") -> bytes:
    """A feedback-loop complaint: the quoted message's To is redacted; the report names the
    recipient when the loop does not redact it."""
    return f"""From: fbl@isp.example.net
To: bounces@news.example.com
Subject: complaint about message from 192.0.2.1
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="B2"

--B2
Content-Type: text/plain

This is an email abuse report.

--B2
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeFBL/1.0
Version: 1
Original-Rcpt-To: {recipient}

--B2
Content-Type: message/rfc822

From: The Weekly Digest <digest@example.com>
To: [redacted]
Subject: This week
Message-ID: {message_id}

(body redacted)
--B2--
""".replace("\n", "\r\n").encode()


def states(db) -> dict[str, tuple[str, str | None]]:
    with db.session() as session:
        blocked = {s.email: s.reason for s in session.scalars(select(Suppression))}
        return {
            s.email: (s.status, blocked.get(s.email)) for s in session.scalars(select(Subscriber))
        }


def test_reports_from_the_return_path_reach_the_ledger(
    cli, db, settings, now, approved_digest, smtp_server
):
    add_subscribers(db, now, 4)
    assert send_now(db, settings, approved_digest).sent == 4
    assert {m.mail_from for m in smtp_server.messages} == {"bounces@news.example.com"}
    ids = message_ids(db)

    hard = cli("inbound", input=dsn(ids["reader0@example.com"], "reader0@example.com"))
    assert hard.exit_code == 0, hard.output
    assert "Applied a bounce_hard report" in hard.output and "now suppressed" in hard.output
    again = cli("inbound", input=dsn(ids["reader0@example.com"], "reader0@example.com"))
    assert again.exit_code == 0 and "was applied before" in again.output

    complaint = cli("inbound", input=arf(ids["reader1@example.com"], "Reader1@Example.com"))
    assert complaint.exit_code == 0, complaint.output
    # as an MTA pipe may hand it over: after an mbox "From " line
    envelope = b"From MAILER-DAEMON  Wed Nov 25 12:00:00 2026\r\n"
    soft = envelope + dsn(ids["reader2@example.com"], "reader2@example.com", status="4.2.2")
    assert "Applied a bounce_soft report" in cli("inbound", input=soft).output
    delayed = dsn(
        ids["reader3@example.com"], "reader3@example.com", action="delayed", status="4.4.1"
    )
    assert "Applied a deferred report" in cli("inbound", input=delayed).output

    assert states(db) == {
        "reader0@example.com": ("bounced", "bounce"),
        "reader1@example.com": ("complained", "complaint"),
        "reader2@example.com": ("confirmed", None),
        "reader3@example.com": ("confirmed", None),
    }
    with db.session() as session:
        assert (
            session.scalar(
                select(Subscriber.soft_bounces).where(Subscriber.email == "reader2@example.com")
            )
            == 1
        )
    feedback = digest_status(db, approved_digest, now).feedback
    assert feedback == {"bounce_hard": 1, "complaint": 1, "bounce_soft": 1, "deferred": 1}


def test_a_report_about_mail_we_never_sent_changes_nothing(cli, db, now, approved_digest):
    add_subscribers(db, now, 1)
    forged = cli("inbound", input=dsn("<made-up@example.com>", "reader0@example.com"))
    assert forged.exit_code == 1
    assert (
        "Error: the report is about <made-up@example.com>, which we did not send" in forged.output
    )
    quoteless = dsn("", "reader0@example.com").replace(b"Message-ID: \r\n", b"")
    empty = cli("inbound", input=quoteless)
    assert empty.exit_code == 1 and "no Message-ID we can act on" in empty.output
    assert states(db) == {"reader0@example.com": ("confirmed", None)}
    assert "Traceback" not in forged.output + empty.output


def test_a_report_must_name_the_recipient_of_the_message_it_quotes(
    cli, db, settings, now, approved_digest
):
    """Hardening finding 8: a digest's Message-ID is seen by whoever reads (or is forwarded)
    the mail; quoting it with another or no recipient changes nothing."""
    add_subscribers(db, now, 2)
    assert send_now(db, settings, approved_digest).sent == 2
    ids = message_ids(db)
    victim = ids["reader0@example.com"]
    forged = [
        (dsn(victim, "reader1@example.com"), "a recipient other than"),
        (dsn(victim, "[redacted]"), "names no recipient"),
        (arf(victim), "names no recipient"),
        (arf(victim, "attacker@example.org"), "a recipient other than"),
    ]
    for mail, reason in forged:
        result = cli("inbound", input=mail)
        assert result.exit_code == 1, result.output
        assert reason in result.output and "Traceback" not in result.output
    assert states(db) == {
        "reader0@example.com": ("confirmed", None),
        "reader1@example.com": ("confirmed", None),
    }
    genuine = cli("inbound", input=dsn(victim, "reader0@example.com"))
    assert genuine.exit_code == 0 and "Applied a bounce_hard report" in genuine.output


def test_a_refusal_during_the_send_and_a_later_bounce_report_follow_one_rule(
    cli, db, settings, now, approved_digest, smtp_server
):
    """Postfix refuses one address at RCPT (550) and accepts another that bounces later: both
    readers end bounced, both addresses suppressed as a bounce."""
    add_subscribers(db, now, 3)
    smtp_server.script.rcpt_replies["reader0@example.com"] = "550 5.1.1 no such user"
    report = send_now(db, settings, approved_digest)
    assert (report.sent, report.failed) == (2, 1)
    ids = message_ids(db)
    later = cli("inbound", input=dsn(ids["reader1@example.com"], "reader1@example.com"))
    assert later.exit_code == 0, later.output
    assert states(db) == {
        "reader0@example.com": ("bounced", "bounce"),
        "reader1@example.com": ("bounced", "bounce"),
        "reader2@example.com": ("confirmed", None),
    }
