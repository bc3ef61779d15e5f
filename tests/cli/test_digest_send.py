import json

import pytest

from tests.fixtures.mailing import add_subscribers, queue_mail


@pytest.fixture
def settings_overrides(smtp_server):
    return {"transport": smtp_server.dsn(), "send_rate": 1000.0}


def test_approve_send_status(cli, db, now, smtp_server):
    cli("demo")
    cli("digest", "build")
    add_subscribers(db, now, 4)
    refused = cli("digest", "send", "2026-W48")
    assert refused.exit_code == 1 and "only an approved digest" in refused.output
    assert cli("digest", "approve", "2026-W48").exit_code == 0
    dry = cli("digest", "send", "2026-W48", "--dry-run")
    assert "4 subscribers would get" in dry.output and not smtp_server.messages
    sent = cli("digest", "send", "2026-W48")
    assert sent.exit_code == 0, sent.output
    assert "4 sent" in sent.output and "Done" in sent.output
    status = json.loads(cli("digest", "status", "2026-W48", "--json").output)
    assert status["status"] == "sent" and status["counts"] == {"sent": 4}
    words = cli("digest", "status", "2026-W48").output
    assert "provider feedback: none yet (with SMTP it arrives by mail" in words
    assert "`mailer inbound`" in words and "webhooks" not in words


def test_pause_resume_cancel_and_retry_words(cli, db, now):
    cli("demo")
    cli("digest", "build")
    bad = cli("digest", "pause", "2026-W48")
    assert bad.exit_code == 1 and "needs one of: sending" in bad.output
    assert cli("digest", "retry", "2026-W48").exit_code == 2
    assert cli("digest", "cancel", "2026-W48").exit_code == 0
    assert "cancelled" in cli("digest", "status", "2026-W48").output


def test_outbox_send_and_list(cli, db, now, settings, smtp_server):
    queue_mail(db, settings, now, "ed@example.com", kind="test", subject="Test issue")
    result = cli("outbox", "send")
    assert result.exit_code == 0 and "1 sent" in result.output
    rows = json.loads(cli("outbox", "list", "--json").output)
    assert rows[0]["status"] == "sent"
    assert smtp_server.messages[0].message["Subject"] == "Test issue"
