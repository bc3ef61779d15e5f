"""`mailer segments`, `mailer digest target` and `mailer sunset` against a real database and
the real SMTP fixture: the count the CLI shows is the count the ledger sends to."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from mailer.core.models import Delivery, Subscriber
from mailer.editions.digests import find_digest
from tests.fixtures.audience import Roster
from tests.fixtures.mailing import add_subscribers


@pytest.fixture
def settings_overrides(smtp_server):
    return {"transport": smtp_server.dsn(), "send_rate": 1000.0}


def _number(output: str, before: str) -> int:
    return int(re.search(rf"(\d+) {before}", output).group(1))


def test_a_segment_count_matches_what_is_sent(cli, db, now, approved_digest, smtp_server):
    add_subscribers(db, now, 12)
    with db.session() as session:  # 6 came from a partner, one of them paused, one long ago
        session.execute(
            update(Subscriber).where(Subscriber.id <= 6).values(origin="partner", confirmed_at=now)
        )
        session.execute(update(Subscriber).where(Subscriber.id == 2).values(paused=True))
        old = now - timedelta(days=400)
        session.execute(update(Subscriber).where(Subscriber.id == 3).values(confirmed_at=old))
    added = cli(
        "segments",
        "add",
        "Partner readers",
        "--source",
        "partner",
        "--confirmed-since",
        (now - timedelta(days=30)).date().isoformat(),
    )
    assert added.exit_code == 0, added.output
    assert "Segment partner-readers saved" in added.output
    period = find_digest(db, approved_digest).period_key
    targeted = cli("digest", "target", period, "--segment", "partner-readers")
    assert targeted.exit_code == 0, targeted.output
    shown = cli("segments", "show", "partner-readers", "--count")
    count = int(re.search(r"readers now: (\d+)", shown.output).group(1))
    assert count == _number(targeted.output, "readers now") == 4
    dry = cli("digest", "send", period, "--dry-run")
    assert _number(dry.output, "subscribers would get") == count

    sent = cli("digest", "send", period)
    assert sent.exit_code == 0, sent.output
    with db.session() as session:
        ledger = session.execute(
            select(Subscriber.email)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.digest_id == approved_digest, Delivery.status == "sent")
        ).scalars()
        recipients = sorted(ledger)
    assert len(recipients) == count
    assert recipients == sorted(f"reader{i}@example.com" for i in (0, 3, 4, 5))
    assert sorted(m.rcpt_tos[0] for m in smtp_server.messages) == recipients
    late = cli("digest", "target", period, "--all")
    assert late.exit_code == 1 and "chosen when sending started" in late.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--source", "a b"), "is not a plain word"),
        (("--confirmed-since", "yesterday"), "must be a date"),
        (("--clicked-in", "3"), "needs per-reader clicks"),
        (("--language", "fr"), "is not offered (en, de)"),
        ((), "at least one rule"),
    ],
)
def test_bad_rules_are_one_sentence_and_exit_1(cli, args, words):
    result = cli("segments", "add", "Some readers", *args)
    assert result.exit_code == 1
    assert words in result.output and "Traceback" not in result.output


def test_removing_a_segment_an_unsent_issue_targets_is_refused(cli, db, approved_digest):
    assert cli("segments", "add", "Forms", "--source", "form").exit_code == 0
    period = find_digest(db, approved_digest).period_key
    assert cli("digest", "target", period, "--segment", "forms").exit_code == 0
    refused = cli("segments", "remove", "forms")
    assert refused.exit_code == 1 and f"{period} targets forms" in refused.output
    assert cli("digest", "target", period, "--all").exit_code == 0
    assert cli("segments", "remove", "forms").exit_code == 0
    assert cli("segments", "show", "forms").exit_code == 1


def test_sunset_preview_counts_while_off_and_run_refuses(cli, db, now):
    roster = Roster(db, now)
    for _ in range(8):
        roster.issue((1, 2), clicks=(1,))
    preview = cli("sunset", "preview")
    assert preview.exit_code == 0
    assert "1 readers would get the re-engagement mail, 0 would be paused." in preview.output
    assert (
        "Per-reader clicks are off" in preview.output and "MAILER_SUNSET is off" in preview.output
    )
    refused = cli("sunset", "run")
    assert refused.exit_code == 1 and "sunsetting is off" in refused.output
