"""`mailer special ...` composes an edition that every `mailer digest` command then takes by its
key; a real `python -m mailer digest send` of one, killed with SIGKILL mid-send, resumes."""

import json
import signal
import time
from collections import Counter

import pytest
from sqlalchemy import select

from mailer.core.models import Article, Delivery
from tests.fixtures.mailing import add_subscribers, delivery_states, send_process

COUNT = 150
WORKERS = 3
GROUP = 4


@pytest.fixture
def settings_overrides(smtp_server):
    return {"transport": smtp_server.dsn(), "send_rate": 1000.0}


def article_ids(db) -> list[int]:
    with db.session() as session:
        return list(session.scalars(select(Article.id).order_by(Article.published_at.desc())))


def test_compose_preview_check_approve_schedule_and_list(cli, db, tmp_path):
    assert cli("demo").exit_code == 0
    ids = article_ids(db)
    made = cli("special", "create", "--title", "Comet night", "--article", str(ids[2]),
               "--article", str(ids[0]))  # fmt: skip
    assert made.exit_code == 0, made.output
    assert made.output.startswith("S20261125-1 composed: 2 stories, 0 related.")
    breaking = cli("special", "create", "--title", "Breaking", "--breaking", str(ids[0]),
                   "--at", "2026-11-26 09:30")  # fmt: skip
    assert breaking.exit_code == 0 and "S20261125-2 composed: 1 story" in breaking.output

    out = tmp_path / "special.html"
    assert cli("digest", "preview", "S20261125-1", "--out", str(out)).exit_code == 0
    assert "Special edition, Wednesday 25 November 2026" in out.read_text()
    shown = json.loads(cli("digest", "show", "s20261125-1", "--json").output)
    with db.session() as session:
        urls = [session.get(Article, i).url for i in (ids[2], ids[0])]
    assert [s["url"] for s in shown["stories"]] == urls and shown["kind"] == "special"
    assert cli("digest", "check", "S20261125-1").exit_code == 0
    assert cli("digest", "approve", "S20261125-1").exit_code == 0
    assert "S20261125-1: approved" in cli("digest", "status", "S20261125-1").output

    listed = json.loads(cli("special", "list", "--json").output)
    assert [(r["period"], r["status"]) for r in listed] == [
        ("S20261125-2", "draft"),
        ("S20261125-1", "approved"),
    ]
    assert listed[0]["scheduled_for"] == "2026-11-26T09:30:00+00:00"  # London is UTC in winter
    moved = cli("special", "schedule", "S20261125-1", "--at", "2026-11-27T08:00")
    assert moved.exit_code == 0 and "goes at 2026-11-27 08:00 once approved" in moved.output
    cleared = cli("special", "schedule", "S20261125-1", "--clear")
    assert cleared.exit_code == 0 and "has no send time" in cleared.output

    for args, code, words in [
        (("special", "create", "--title", "X"), 1, "not both, not neither"),
        (("special", "create", "--title", "X", "--article", "999999"), 1, "no stored article"),
        (("special", "create", "--title", "X", "--breaking", "1", "--at", "soon"), 1, "not a time"),
        (("special", "create", "--title", "X", "--breaking", "1", "--at", "2020-01-01 09:00"), 1,
         "has passed"),
        (("special", "schedule", "S20261125-1"), 2, "give --at TIME or --clear"),
        (("special", "schedule", "S20991231-9", "--clear"), 1, "no digest S20991231-9"),
        (("digest", "build", "--period", "S20261125-1"), 2, "is not a week"),
    ]:  # fmt: skip
        result = cli(*args)
        assert result.exit_code == code, (args, result.output)
        assert words in result.output and "Traceback" not in result.output


def special_send(settings, smtp_server, tmp_path, key: str):
    return send_process(settings, smtp_server, tmp_path, key, WORKERS, GROUP)


def test_a_special_edition_killed_mid_send_resumes_without_a_duplicate(
    cli, db, settings, now, smtp_server, tmp_path
):
    cli("demo")
    breaking = cli("special", "create", "--title", "Breaking: comet", "--breaking",
                   str(article_ids(db)[0]))  # fmt: skip
    assert breaking.exit_code == 0, breaking.output
    assert cli("digest", "approve", "S20261125-1").exit_code == 0
    add_subscribers(db, now, COUNT)
    smtp_server.script.delay = 0.01  # a slow relay, so the kill lands mid-send

    first = special_send(settings, smtp_server, tmp_path, "S20261125-1")
    smtp_server.wait_for(40, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=10)
    killed_at = len(smtp_server.messages)
    assert killed_at < COUNT, "the send finished before it could be killed"
    with db.session() as session:
        in_doubt = len(
            session.scalars(
                select(Delivery.id).where(
                    Delivery.status == "sending", Delivery.handed_at.is_not(None)
                )
            ).all()
        )
    assert in_doubt <= WORKERS * GROUP

    time.sleep(1.5)  # the dead process's one-second leases expire
    second = special_send(settings, smtp_server, tmp_path, "s20261125-1")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, out + err
    assert "Done" in out

    received = Counter(m.rcpt_tos[0] for m in smtp_server.messages)
    rows = delivery_states(db)
    assert len(rows) == COUNT
    expected = Counter({"sent": COUNT - in_doubt, "unknown": in_doubt})
    assert Counter(rows.values()) == +expected  # exactly the rows in doubt are unknown
    assert max(received.values()) == 1  # nobody got it twice
    assert len(received) >= COUNT - in_doubt
    subjects = {m.message["Subject"] for m in smtp_server.messages}
    assert subjects == {"Breaking: comet"}
    status = json.loads(cli("digest", "status", "S20261125-1", "--json").output)
    assert status["status"] == "sent"
