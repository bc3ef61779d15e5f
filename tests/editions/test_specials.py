"""Special editions: composed from chosen articles or one breaking story, then a digest like any
other (render, lifecycle, scheduler), and a database made before them migrates untouched."""

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from mailer.content.demo import load_demo
from mailer.core.db import Database, upgrade
from mailer.core.errors import Conflict, MailerError, NotFound
from mailer.core.models import Article, Digest, OutboxMessage, Subscriber
from mailer.editions import lifecycle, specials
from mailer.editions.digests import build_digest, find_digest
from mailer.editions.render import render_digest, web_issue
from mailer.scheduler.jobs import tick
from mailer.scheduler.plan import send_plan
from tests.fixtures.mailing import add_subscribers, delivery_states


@pytest.fixture
def settings_overrides(smtp_server):
    return {"transport": smtp_server.dsn(), "editor_emails": ("desk@example.com",)}


@pytest.fixture
def demo_ids(db, settings, now):
    load_demo(db, now, settings.zone, base_url=settings.base_url)
    with db.session() as session:
        return list(session.scalars(select(Article.id).order_by(Article.published_at.desc())))


def test_chosen_articles_become_a_special_edition_in_their_order(db, settings, now, demo_ids):
    chosen = [demo_ids[3], demo_ids[0], demo_ids[3], demo_ids[5]]  # a repeat counts once
    digest = specials.create_special(
        db, settings, now, "  Election\u200b night:\n results ", "ed", article_ids=chosen
    )
    assert (digest.kind, digest.status, digest.period_key) == ("special", "draft", "S20261125-1")
    assert digest.subject == "Election night: results"
    assert [i.article_id for i in digest.items] == [demo_ids[3], demo_ids[0], demo_ids[5]]
    assert all(not i.related for i in digest.items)
    second = specials.create_special(db, settings, now, "Another", "ed", article_ids=chosen[:1])
    assert second.period_key == "S20261125-2"
    assert find_digest(db, "s20261125-2").id == second.id  # any case, as weeks are found

    rendered = render_digest(find_digest(db, digest.id), settings)
    assert rendered.subject == "Election night: results"  # the title, not the weekly format
    assert "Special edition, Wednesday 25 November 2026" in rendered.text
    assert "A special edition from" in rendered.text and "this week's" not in rendered.text
    assert web_issue(find_digest(db, digest.id), settings)["special"] is True
    assert [d.period_key for d in specials.list_specials(db)] == ["S20261125-2", "S20261125-1"]
    # a special is never ranked by a build, and a week's build leaves it alone
    assert build_digest(db, settings, now, digest.period_key, True).outcome == "locked"
    assert build_digest(db, settings, now).outcome == "created"


def test_a_breaking_story_comes_with_its_related_coverage(db, settings, now, demo_ids):
    boxes = {}
    for article_id in demo_ids[:12]:
        digest = specials.create_special(db, settings, now, "Breaking", "ed", breaking=article_id)
        boxes[article_id] = digest
    lead = max(boxes.values(), key=lambda d: len(d.items[0].related))
    assert len(lead.items) == 1 and lead.items[0].related  # the demo has stories that grew
    assert lead.preheader.startswith("Also: ")
    related = {r.article_id for r in lead.items[0].related}
    assert lead.items[0].article_id not in related


def test_bad_compositions_are_refused_in_one_sentence(db, settings, now, demo_ids):
    cases = [
        ({"title": " \u200b "}, MailerError, "needs a title"),
        ({"title": "x" * 151}, MailerError, "keep it to 150"),
        ({"article_ids": [], "breaking": None}, MailerError, "not both, not neither"),
        ({"article_ids": demo_ids[:1], "breaking": demo_ids[1]}, MailerError, "not both"),
        ({"article_ids": [demo_ids[0], 999999]}, NotFound, "no stored article 999999"),
        ({"article_ids": demo_ids[:21]}, MailerError, "holds 20"),
        ({"scheduled_for": now - timedelta(minutes=1)}, MailerError, "has passed"),
    ]
    for overrides, error, words in cases:
        kwargs = {"title": "Special", "article_ids": demo_ids[:2], **overrides}
        title = kwargs.pop("title")
        with pytest.raises(error, match=words):
            specials.create_special(db, settings, now, title, "ed", **kwargs)
    with db.session() as session:
        assert session.scalar(select(Digest.id).where(Digest.kind == "special")) is None
    with pytest.raises(MailerError, match="not a time"):
        specials.parse_when("tomorrow at nine", settings.zone)
    week = build_digest(db, settings, now).digest_id
    with pytest.raises(Conflict, match="weekly digest"):
        specials.schedule(db, week, now + timedelta(hours=1), "ed", now)


def test_the_tick_sends_an_approved_special_at_its_time_once(
    services, db, settings, now, demo_ids, smtp_server
):
    add_subscribers(db, now, 3)
    at = now + timedelta(hours=2)
    digest = specials.create_special(
        db, settings, now, "Storm", "ed", article_ids=demo_ids[:2], scheduled_for=at
    )
    assert send_plan(db, settings, digest.period_key, now).when == "at"
    assert not [line for line in tick(services, now) if "S2026" in line]  # not yet due

    later = at + timedelta(minutes=1)
    tick(services, later)  # due but a draft: held, the desk told once
    tick(services, later + timedelta(minutes=1))
    with db.session() as session:
        held = session.scalars(select(OutboxMessage.subject)).all()
    assert [s for s in held if "S2026" in s] == [
        f"[{settings.list_name}] {digest.period_key} is on hold: not approved"
    ]

    lifecycle.approve(db, settings, digest.id, "ed", later)
    lines = tick(services, later + timedelta(minutes=2))
    assert f"send: {digest.period_key} started" in lines
    assert find_digest(db, digest.id).status == "sent"
    assert sorted(delivery_states(db, digest.id).values()) == ["sent"] * 3
    assert not [line for line in tick(services, later + timedelta(minutes=3)) if "S2026" in line]
    subjects = {m.message["Subject"] for m in smtp_server.messages if "reader" in m.rcpt_tos[0]}
    assert subjects == {"Storm"}

    manual = specials.create_special(db, settings, now, "By hand", "ed", article_ids=demo_ids[:1])
    assert send_plan(db, settings, manual.period_key, now).when == "manual"
    specials.schedule(db, manual.id, at, "ed", now)
    assert find_digest(db, manual.id).scheduled_for == at
    specials.schedule(db, manual.id, None, "ed", now)
    assert find_digest(db, manual.id).scheduled_for is None


def test_a_database_made_before_special_editions_migrates_with_its_digests(database_url, now):
    db = Database(database_url)
    upgrade(db, "0009_clicks")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO digests (period_key, status, subject, preheader, intro, vetoed,"
                " created_at, updated_at) VALUES ('2026-W47', 'sent', 'Old', '', '', :no,"
                " :at, :at)"
            ),
            {"no": False, "at": now.replace(tzinfo=None)},
        )
    upgrade(db)
    old = find_digest(db, "2026-W47")
    assert (old.kind, old.scheduled_for, old.subject) == ("weekly", None, "Old")
    db.dispose()


def test_a_special_edition_of_another_newsletter_reaches_only_its_readers(
    db, settings, now, demo_ids
):
    from mailer.delivery.ledger import materialise
    from mailer.readers import newsletters

    add_subscribers(db, now, 4)
    alerts = newsletters.add(db, now, slug="alerts", name="Breaking alerts", cadence="manual")
    with db.session() as session:
        ids = list(session.scalars(select(Subscriber.id).order_by(Subscriber.id)))
        newsletters.activate(session, ids[0], [alerts.id], now)
    digest = specials.create_special(
        db, settings, now, "Alert", "ed", breaking=demo_ids[0], newsletter="alerts"
    )
    assert digest.newsletter_id == alerts.id
    # its key names it without --newsletter (special keys are unique across newsletters)
    assert find_digest(db, digest.period_key).id == digest.id
    assert materialise(db, digest.id, now) == 1  # the one reader of the alerts
    # the mail names its own newsletter, not MAILER_LIST_NAME
    rendered = render_digest(find_digest(db, digest.id), settings)
    assert "You get this because you joined Breaking alerts from" in rendered.text
    assert settings.list_name not in rendered.text
    with pytest.raises(MailerError, match="no newsletter 'nope'"):
        specials.create_special(
            db, settings, now, "X", "ed", breaking=demo_ids[0], newsletter="nope"
        )
