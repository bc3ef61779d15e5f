"""A newsletter other than the default builds and sends on its own cadence, to its own readers."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from mailer.content.articles import ArticleData, set_stats, upsert_article
from mailer.core.models import Delivery, Digest, Subscriber
from mailer.readers import newsletters
from mailer.scheduler.jobs import tick
from mailer.scheduler.plan import send_plan
from tests.fixtures.mailing import add_subscribers


@pytest.fixture
def settings_overrides(smtp_server):
    return {
        "transport": smtp_server.dsn(),
        "timezone": "Europe/London",
        "send_rate": 1000.0,
        "auto_approve": True,
    }


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_a_daily_newsletter_builds_and_sends_at_its_hour_to_its_readers(
    services, settings, db, smtp_server
):
    day = utc(2026, 11, 24)
    with db.session() as session:
        for i in range(6):
            article, _ = upsert_article(
                session,
                ArticleData(
                    url=f"https://news.example.com/day/{i}",
                    title=f"Morning story {i}",
                    published_at=day + timedelta(hours=i, minutes=30),
                    section=f"S{i % 3}",
                ),
                day,
            )
            set_stats(session, article, views=100 * (i + 1), now=day)
    add_subscribers(db, day, 3)
    daily = newsletters.add(db, day, slug="daily", name="Daily Brief", cadence="daily", send_hour=7)
    newsletters.add(db, day, slug="special", name="Specials", cadence="manual")
    with db.session() as session:
        first = session.scalar(select(Subscriber.id).order_by(Subscriber.id))
        newsletters.activate(session, first, [daily.id], day)

    plan = send_plan(db, settings, "2026-11-24", utc(2026, 11, 24, 6, 0), newsletter=daily)
    assert (plan.when, plan.slot, plan.readers) == ("at", utc(2026, 11, 24, 7, 0), 1)
    early = tick(services, utc(2026, 11, 24, 6, 59))  # the default's own week is its own affair
    assert not [line for line in early if "daily" in line]  # before its hour: nothing
    done = tick(services, utc(2026, 11, 24, 7, 1))
    assert any(line.startswith("build daily: 2026-11-24 created") for line in done), done
    assert "send daily: 2026-11-24 started" in done
    for minute in range(2, 5):
        tick(services, utc(2026, 11, 24, 7, minute))
    with db.session() as session:
        issues = {
            (d.newsletter_id, d.period_key): d.status for d in session.scalars(select(Digest))
        }
        delivered = session.scalars(select(Delivery.subscriber_id)).all()
    assert {k: v for k, v in issues.items() if k[0] == daily.id} == {
        (daily.id, "2026-11-24"): "sent"
    }
    assert delivered == [first]
    [message] = smtp_server.messages
    assert "<daily.digest.example.com>" in message.message["List-Id"]
    # a second scheduler, or a replayed tick, does nothing twice
    assert not [line for line in tick(services, utc(2026, 11, 24, 7, 30)) if "daily" in line]
    # the next day is a new issue (too little content here: skipped, for that day only)
    later = tick(services, utc(2026, 11, 25, 7, 1))
    assert any(line.startswith("build daily: 2026-11-25") for line in later), later
