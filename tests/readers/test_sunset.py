"""Sunsetting on a test roster with known clicks: who is mailed, who is paused, who comes back."""

from dataclasses import replace

import pytest
from sqlalchemy import select, update

from mailer.core.models import OutboxMessage, ReaderSunset, Subscriber
from mailer.delivery.engine import drain_outbox
from mailer.readers import links, privacy, sunset
from mailer.scheduler import jobs
from mailer.services import system_clock
from tests.fixtures.audience import Roster
from tests.fixtures.readers import path_of

# Roster: reader0 clicks often, reader1 never, reader2 once early, reader3 joined late,
# reader4 paused mail themselves.
ENGAGED, SILENT, FADED, LATE, SELF_PAUSED = 1, 2, 3, 4, 5


@pytest.fixture
def settings_overrides():
    return {
        "click_tracking": "per_reader",
        "sunset": True,
        "sunset_after_issues": 3,
        "sunset_grace_issues": 2,
    }


def _reengage_mails(db) -> list[int]:
    with db.session() as session:
        return list(
            session.scalars(
                select(OutboxMessage.subscriber_id)
                .where(OutboxMessage.kind == "reengage")
                .order_by(OutboxMessage.id)
            )
        )


def _stages(db) -> dict[int, str]:
    with db.session() as session:
        return dict(session.execute(select(ReaderSunset.subscriber_id, ReaderSunset.stage)).all())


def test_sunsetting_on_a_test_roster_with_known_clicks(db, settings, now, client, tmp_path):
    roster = Roster(db, now)
    everyone = (ENGAGED, SILENT, FADED)
    # An issue from before per-reader counting: nobody's clicks are known, so it counts not.
    roster.issue((*everyone, LATE))
    roster.issue(everyone, clicks=(FADED,))
    roster.issue(everyone, clicks=(ENGAGED,))
    roster.issue(everyone, clicks=(ENGAGED,))

    before = sunset.preview(db, settings)
    assert (before.mail, before.pause) == (1, 0)  # only the silent reader: 3 quiet issues
    assert sunset.run(db, settings, roster.next_day()).mail == 1
    assert sunset.run(db, settings, roster.next_day()).mail == 0  # once per reader per cycle
    assert _reengage_mails(db) == [SILENT]
    assert _stages(db) == {SILENT: "mailed"}

    roster.issue((*everyone, LATE), clicks=(ENGAGED,))
    roster.issue((*everyone, LATE), clicks=(ENGAGED,))
    after = sunset.preview(db, settings)
    # The faded reader's turn (4 quiet issues); the silent one pauses after 2 more; the late
    # joiner was sent only 2 issues whose clicks are known.
    assert (after.mail, after.pause) == (1, 1)
    done = sunset.run(db, settings, roster.next_day())
    assert (done.mail, done.pause) == (1, 1)
    assert _reengage_mails(db) == [SILENT, FADED]
    assert _stages(db) == {SILENT: "paused", FADED: "mailed"}
    with db.session() as session:
        paused = dict(session.execute(select(Subscriber.id, Subscriber.paused)).all())
    assert paused == {ENGAGED: False, SILENT: True, FADED: False, LATE: False, SELF_PAUSED: True}

    # The mail goes out through the outbox like every reader mail.
    report = drain_outbox(db, settings, lambda: _file_transport(settings), system_clock)
    assert report.sent == 2
    mail = _outbox_text(db, FADED)
    assert "last 3 issues" in mail and "next 2 issues" in mail and "/preferences/" in mail

    # The paused reader comes back from their preferences; quiet issues count from then on.
    with db.session() as session:
        nonce = session.get(Subscriber, SILENT).token_nonce
    url = path_of(links.preferences_url(settings, SILENT, nonce, now))
    page = client.get(url).get_data(as_text=True)
    assert "Resume my newsletter" in page and "not followed a link" in page
    back = client.post(url, data={"action": "resume", "csrf_token": _csrf(page)})
    assert back.status_code == 200 and "Mail is on again." in back.get_data(as_text=True)
    assert _stages(db)[SILENT] == "resumed"
    assert (sunset.preview(db, settings).mail, sunset.preview(db, settings).pause) == (0, 0)

    # The reader's data download says where sunsetting has them; erasing them removes it.
    assert privacy.export_data(db, SILENT)["sunset"]["stage"] == "resumed"
    privacy.forget(db, SILENT, now)
    assert SILENT not in _stages(db)


def _csrf(html: str) -> str:
    from tests.fixtures.editors import token

    return token(html)


def _file_transport(settings):
    from mailer.delivery.transports import transport_from_dsn, transport_options

    return transport_from_dsn(settings.transport, transport_options(settings))


def _outbox_text(db, subscriber_id: int) -> str:
    with db.session() as session:
        return session.scalar(
            select(OutboxMessage.text).where(
                OutboxMessage.subscriber_id == subscriber_id, OutboxMessage.kind == "reengage"
            )
        )


def test_the_scheduler_runs_it_once_a_day_and_the_preview_works_while_it_is_off(
    services, db, settings, now
):
    roster = Roster(db, now)
    for n in range(3):
        roster.issue((ENGAGED, SILENT, FADED), clicks=(ENGAGED,))
        if n == 1:  # the faded reader left and joined again here: judged on one issue since
            with db.session() as session:
                session.execute(
                    update(Subscriber)
                    .where(Subscriber.id == FADED)
                    .values(confirmed_at=roster.next_day())
                )
    off = sunset.preview(db, replace(settings, sunset=False))  # the count before turning it on
    assert (off.on, off.ready, off.mail, off.pause) == (False, True, 1, 0)
    first = jobs.tick(services, now)
    assert "sunset: 1 re-engagement mails queued, 0 readers paused" in first
    assert not [line for line in jobs.tick(services, now) if line.startswith("sunset")]
    assert _reengage_mails(db) == [SILENT]
