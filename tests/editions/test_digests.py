"""Digest snapshots on SQLite and PostgreSQL: built once, rebuilt only as drafts, edits logged."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.content.articles import ArticleData, set_stats, upsert_article
from mailer.content.demo import load_demo
from mailer.core.db import Database
from mailer.core.errors import Conflict, MailerError, NotFound
from mailer.core.models import AuditEntry, Digest, DigestItem
from mailer.editions import digests, editing, lifecycle
from tests.fixtures.content import article, digest_count


@pytest.fixture
def demo(db, now, settings):
    load_demo(db, now, settings.zone)


def audit_actions(db) -> list[tuple[str, str]]:
    with db.session() as session:
        rows = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [(r.actor, r.action) for r in rows]


def test_build_makes_one_frozen_snapshot_per_week(db, settings, now, demo):
    first = digests.build_digest(db, settings, now)
    assert (first.outcome, first.period) == ("created", "2026-W48")
    assert set(first.timings) == {"rank", "related", "store", "render"}
    again = digests.build_digest(db, settings, now)
    assert (again.outcome, again.digest_id) == ("exists", first.digest_id)
    digest = digests.find_digest(db, "2026-w48")
    assert digest.id == first.digest_id == digests.find_digest(db, str(first.digest_id)).id
    assert digest.status == "draft"
    assert len(digest.items) == settings.digest_top
    lead = min(digest.items, key=lambda i: i.position)
    assert digest.subject == lead.title  # MAILER_DIGEST_SUBJECT's default: the lead headline
    sections = [i.section for i in digest.items]
    assert max(sections.count(s) for s in sections) <= settings.digest_max_per_section
    shown = [i.article_id for i in digest.items]
    shown += [r.article_id for i in digest.items for r in i.related]
    assert len(shown) == len(set(shown))
    for item in digest.items:
        assert item.title and item.url.startswith("https://") and item.excerpt
        assert len(item.related) <= settings.digest_related
        for rel in item.related:
            assert rel.context == f"In {rel.context[3:]}" and rel.title
    with db.session() as session:
        assert len(session.scalars(select(Digest)).all()) == 1
    assert audit_actions(db) == [("system", "build")]


def test_a_snapshot_does_not_change_when_the_article_does(db, settings, now, demo):
    from mailer.core.models import Article

    result = digests.build_digest(db, settings, now)
    lead = digests.find_digest(db, result.period).items[0]
    with db.session() as session:
        session.get(Article, lead.article_id).title = "Edited afterwards"
    assert digests.find_digest(db, result.period).items[0].title == lead.title


def test_too_few_articles_build_nothing_and_say_why(db, settings, now, store_articles):
    store_articles([article(1, now - timedelta(hours=1)), article(2, now - timedelta(hours=2))])
    result = digests.build_digest(db, settings, now)
    assert result.outcome == "too_few"
    assert "2 articles" in result.message and "MAILER_DIGEST_MIN_ITEMS" in result.message
    assert digest_count(db) == 0


def test_future_articles_are_not_in_the_week_yet(db, settings, now, store_articles):
    rows = [article(n, now - timedelta(hours=n)) for n in range(1, 3)]
    rows.append(article(3, now + timedelta(hours=5)))
    store_articles(rows)
    assert digests.build_digest(db, settings, now).outcome == "too_few"


def test_rebuild_replaces_a_draft_and_keeps_pinned_stories(db, settings, now, demo):
    first = digests.build_digest(db, settings, now)
    digest = digests.find_digest(db, first.period)
    last = digest.items[-1]
    editing.set_pinned(db, first.period, last.id, True, "ed@example.com", now)
    rebuilt = digests.build_digest(db, settings, now, rebuild=True)
    assert rebuilt.outcome == "rebuilt"
    fresh = digests.find_digest(db, first.period)
    pinned = [i for i in fresh.items if i.pinned]
    assert [i.article_id for i in pinned] == [last.article_id]
    assert len(fresh.items) == settings.digest_top
    assert ("system", "rebuild") in audit_actions(db)


def test_rebuild_never_touches_an_approved_or_sent_digest(db, settings, now, demo):
    first = digests.build_digest(db, settings, now)
    lifecycle.approve(db, settings, first.period, "ed@example.com", now)
    result = digests.build_digest(db, settings, now, rebuild=True)
    assert result.outcome == "locked" and "approved" in result.message
    with db.session() as session:
        session.get(Digest, first.digest_id).status = "sent"
    assert digests.build_digest(db, settings, now, rebuild=True).outcome == "locked"
    assert digests.find_digest(db, first.digest_id).status == "sent"


def test_top_stories_of_the_last_four_digests_are_held_back(db, settings, now, store_articles):
    built = []
    for weeks_ago in range(6, 0, -1):
        sunday = now + timedelta(days=4) - timedelta(weeks=weeks_ago)  # FIXED_NOW is a Wednesday
        store_articles(
            [article(weeks_ago * 100 + n, sunday - timedelta(hours=n)) for n in range(4)]
        )
        result = digests.build_digest(db, settings, sunday)
        assert result.outcome == "created", result.message
        built.append(digests.find_digest(db, result.digest_id))
    with db.session() as session:
        session.get(Digest, built[-1].id).status = "cancelled"
        held = digests.recent_top_ids(session, "2026-W48")
    expected = {i.article_id for d in built[1:5] for i in d.items}
    assert held == expected  # the four before, a cancelled one not counted, the oldest let go


def test_two_builds_at_once_leave_one_digest(db, settings, now, demo):
    outcomes = []

    def build() -> None:
        other = Database(settings.effective_database_url)
        try:
            outcomes.append(digests.build_digest(other, settings, now).outcome)
        finally:
            other.dispose()

    threads = [threading.Thread(target=build) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created", "exists", "exists"]
    assert digest_count(db) == 1


def test_editor_changes_are_applied_and_recorded(db, settings, now, demo):
    key = digests.build_digest(db, settings, now).period
    ed = "ed@example.com"
    editing.set_text(db, key, ed, now, subject="  This   week ", intro="Hello all.\n")
    digest = digests.find_digest(db, key)
    assert (digest.subject, digest.intro) == ("This week", "Hello all.")
    items = digest.items
    editing.move_item(db, key, items[2].id, -2, ed, now)
    assert digests.find_digest(db, key).items[0].id == items[2].id
    editing.exclude_item(db, key, items[1].id, ed, now)
    after = digests.find_digest(db, key).items
    assert items[1].id not in [i.id for i in after]
    assert [i.position for i in after] == list(range(len(after)))
    with_related = next(i for i in after if i.related)
    gone = with_related.related[0]
    editing.remove_related(db, key, gone.id, ed, now)
    item = next(i for i in digests.find_digest(db, key).items if i.id == with_related.id)
    assert gone.id not in [r.id for r in item.related]
    editing.add_related(db, key, item.id, gone.article_id, ed, now)
    editing.add_story(db, key, items[1].article_id, ed, now)
    actions = [a for actor, a in audit_actions(db) if actor == ed]
    assert actions == [
        "edit text",
        "reorder",
        "exclude",
        "remove related",
        "add related",
        "add story",
    ]


def test_editor_changes_refuse_bad_requests(db, settings, now, demo):
    key = digests.build_digest(db, settings, now).period
    ed = "ed@example.com"
    digest = digests.find_digest(db, key)
    with pytest.raises(MailerError, match="subject cannot be empty"):
        editing.set_text(db, key, ed, now, subject="   ")
    with pytest.raises(NotFound):
        editing.move_item(db, key, 999999, 1, ed, now)
    with pytest.raises(Conflict, match="already a story"):
        editing.add_story(db, key, digest.items[0].article_id, ed, now)
    editing.set_pinned(db, key, digest.items[0].id, True, ed, now)
    with pytest.raises(Conflict, match="unpin"):
        editing.exclude_item(db, key, digest.items[0].id, ed, now)
    with pytest.raises(NotFound):
        digests.find_digest(db, "2030-W01")
    assert digests.find_digest(db, key).subject == digest.subject


def test_approve_and_withdraw(db, settings, now, demo):
    key = digests.build_digest(db, settings, now).period
    lifecycle.approve(db, settings, key, "chief@example.com", now)
    digest = digests.find_digest(db, key)
    assert (digest.status, digest.approved_by, digest.approved_at) == (
        "approved",
        "chief@example.com",
        now,
    )
    with pytest.raises(Conflict, match="withdraw approval"):
        editing.set_text(db, key, "ed@example.com", now, subject="Too late")
    with pytest.raises(Conflict, match="not a draft"):
        lifecycle.approve(db, settings, key, "chief@example.com", now)
    lifecycle.veto(db, key, "chief@example.com", now)
    digest = digests.find_digest(db, key)
    assert (digest.status, digest.approved_at, digest.vetoed) == ("draft", None, True)
    with db.session() as session:
        session.get(Digest, digest.id).status = "sending"
    with pytest.raises(Conflict, match="no longer be withdrawn"):
        lifecycle.withdraw(db, key, "chief@example.com", now)
    assert ("chief@example.com", "approve") in audit_actions(db)
    assert ("chief@example.com", "veto") in audit_actions(db)


def test_an_issue_too_big_for_mail_clients_is_not_built(
    db, settings, now, store_articles, settings_overrides
):
    import dataclasses

    big = dataclasses.replace(settings, digest_top=80, digest_max_per_section=80)
    words = " ".join(f"word{n}" for n in range(60))
    store_articles(
        [
            article(
                n,
                now - timedelta(hours=n),
                title=f"A long headline number {n} " * 8,
                summary=words,
                image_url=f"https://news.example.com/{n}.jpg",
                image_alt=f"Picture {n}",
                author="A Writer",
            )
            for n in range(80)
        ]
    )
    result = digests.build_digest(db, big, now)
    assert result.outcome == "too_big" and "KB of HTML" in result.message, result.message
    assert digest_count(db) == 0
    with db.session() as session:
        assert session.scalars(select(DigestItem)).all() == []


@pytest.mark.parametrize(
    "moment",
    [
        "2026-11-23T00:01:00+00:00",  # Monday, a minute into the week (London is on UTC)
        "2026-11-29T23:59:00+00:00",  # Sunday night
        "2026-07-06T00:03:00+01:00",  # Monday in summer time
    ],
)
def test_the_demo_always_fills_the_current_week(db, settings, moment):
    from datetime import datetime

    now = datetime.fromisoformat(moment)
    load_demo(db, now, settings.zone)
    result = digests.build_digest(db, settings, now)
    assert result.outcome == "created", result.message
    assert len(digests.find_digest(db, result.digest_id).items) >= settings.digest_min_items


def test_reorder_takes_a_whole_new_order_or_nothing(db, settings, now, demo):
    key = digests.build_digest(db, settings, now).period
    ids = [i.id for i in digests.find_digest(db, key).items]
    editing.reorder_items(db, key, list(reversed(ids)), "ed@example.com", now)
    assert [i.id for i in digests.find_digest(db, key).items] == list(reversed(ids))
    with pytest.raises(MailerError, match="exactly once"):
        editing.reorder_items(db, key, ids[:2], "ed@example.com", now)
    assert [i.id for i in digests.find_digest(db, key).items] == list(reversed(ids))


def test_build_once_per_period(db, settings, now, demo):
    first = digests.build_digest(db, settings, now)
    assert first.outcome == "created"
    assert first.period == "2026-W48"
    again = digests.build_digest(db, settings, now)
    assert again.outcome == "exists"
    with db.session() as session:
        assert len(session.scalars(select(Digest)).all()) == 1


def test_snapshot_obeys_the_rules(db, settings, now, demo):
    result = digests.build_digest(db, settings, now)
    digest = digests.find_digest(db, result.period)
    assert len(digest.items) == settings.digest_top
    sections = [i.section for i in digest.items]
    assert max(sections.count(s) for s in sections) <= settings.digest_max_per_section
    shown = [i.article_id for i in digest.items] + [
        r.article_id for i in digest.items for r in i.related
    ]
    assert len(shown) == len(set(shown))
    assert all(len(i.related) <= settings.digest_related for i in digest.items)
    lead = min(digest.items, key=lambda i: i.position)
    assert digest.subject == lead.title  # MAILER_DIGEST_SUBJECT's default: the lead headline


def test_too_few_articles_means_no_digest(db, settings, now):
    result = digests.build_digest(db, settings, now, period="2019-W04")
    assert result.outcome == "too_few"
    assert "MAILER_DIGEST_MIN_ITEMS" in result.message
    assert digest_count(db) == 0


def test_rebuild_replaces_a_draft_and_keeps_pins_but_never_an_approved_one(db, settings, now, demo):
    built = digests.build_digest(db, settings, now)
    digest = digests.find_digest(db, built.digest_id)
    last = sorted(digest.items, key=lambda i: i.position)[-1]
    editing.set_pinned(db, built.digest_id, last.id, True, "ed", now)
    rebuilt = digests.build_digest(db, settings, now, rebuild=True)
    assert rebuilt.outcome == "rebuilt"
    fresh = digests.find_digest(db, rebuilt.digest_id)
    assert last.article_id in [i.article_id for i in fresh.items if i.pinned]
    lifecycle.approve(db, settings, rebuilt.digest_id, "ed", now)
    locked = digests.build_digest(db, settings, now, rebuild=True)
    assert locked.outcome == "locked"


def test_last_four_digests_top_stories_are_not_repeated(db, settings, now):
    from mailer.core.models import Article

    week47 = now - timedelta(days=7)
    with db.session() as session:
        for i in range(8):
            article, _ = upsert_article(
                session,
                ArticleData(
                    url=f"https://news.example.com/{i}",
                    title=f"Distinct headline {i}",
                    published_at=week47 + timedelta(hours=i),
                    section=f"S{i}",
                ),
                now,
            )
            set_stats(session, article, views=1000 - i, now=now)
    first = digests.build_digest(db, settings, now, period="2026-W47")
    top_ids = {i.article_id for i in digests.find_digest(db, first.digest_id).items}
    # the newsroom re-dates every article into this week (updated stories): earlier top
    # stories must not lead again
    with db.session() as session:
        for article in session.scalars(select(Article)):
            article.published_at = now - timedelta(hours=1)
    second = digests.build_digest(db, settings, now)
    assert second.outcome == "created"
    again = {i.article_id for i in digests.find_digest(db, second.digest_id).items}
    assert again and not (again & top_ids)


def test_editor_operations_are_recorded(db, settings, now, demo):
    built = digests.build_digest(db, settings, now)
    digest = digests.find_digest(db, built.digest_id)
    items = sorted(digest.items, key=lambda i: i.position)
    editing.set_text(
        db, built.digest_id, "ed@example.com", now, subject="New subject", intro="Hello readers."
    )
    editing.move_item(db, built.digest_id, items[2].id, -2, "ed@example.com", now)
    editing.exclude_item(db, built.digest_id, items[4].id, "ed@example.com", now)
    rel = items[0].related[0]
    editing.remove_related(db, built.digest_id, rel.id, "ed@example.com", now)
    after = digests.find_digest(db, built.digest_id)
    ordered = sorted(after.items, key=lambda i: i.position)
    assert ordered[0].id == items[2].id
    assert [i.position for i in ordered] == list(range(len(items) - 1))
    assert after.subject == "New subject"
    assert rel.id not in [r.id for i in after.items for r in i.related]
    with db.session() as session:
        actions = [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == ["build", "edit text", "reorder", "exclude", "remove related"]
    with pytest.raises(MailerError, match="empty"):
        editing.set_text(db, built.digest_id, "ed", now, subject="   ")


def test_approved_digest_cannot_be_edited_until_withdrawn(db, settings, now, demo):
    built = digests.build_digest(db, settings, now)
    lifecycle.approve(db, settings, built.digest_id, "ed", now)
    with pytest.raises(Conflict, match="withdraw"):
        editing.set_text(db, built.digest_id, "ed", now, subject="x")
    lifecycle.veto(db, built.digest_id, "ed", now)
    digest = digests.find_digest(db, built.digest_id)
    assert digest.status == "draft" and digest.vetoed


def test_find_digest_by_id_or_period(db, settings, now, demo):
    built = digests.build_digest(db, settings, now)
    assert digests.find_digest(db, str(built.digest_id)).period_key == built.period
    assert digests.find_digest(db, built.period.lower()).id == built.digest_id
    with pytest.raises(MailerError, match="no digest"):
        digests.find_digest(db, "1999-W01")


def test_invisible_characters_leave_titles_and_the_subject(db, settings, now, store_articles):
    """Stored through the one upsert every source uses, then snapshotted and edited."""
    store_articles(
        [
            article(n, now - timedelta(hours=n), title=f"\u202eStory\u200b {n}\u2066 votes\ufeff")
            for n in range(1, 5)
        ]
    )
    built = digests.build_digest(db, settings, now)
    digest = digests.find_digest(db, built.digest_id)
    titles = [i.title for i in digest.items] + [r.title for i in digest.items for r in i.related]
    assert titles and all(t.startswith("Story ") and t.endswith(" votes") for t in titles)
    assert digest.subject.isascii() and digest.preheader.isascii()
    editing.set_text(
        db,
        built.digest_id,
        "ed@example.com",
        now,
        subject="Big\u202e week\u2060",
        preheader="\u200fAlso",
    )
    digest = digests.find_digest(db, built.digest_id)
    assert (digest.subject, digest.preheader) == ("Big week", "Also")


def test_one_entry_per_story_whose_other_pieces_head_its_related_box(
    db, settings, now, store_articles
):
    monday = now - timedelta(days=2, hours=12)  # FIXED_NOW is Wednesday noon
    flood = [
        ("River Wend bursts its banks in Riverton", "Flooding closes the Wend bridge.", -1),
        ("Riverton floods: Wend bridge stays closed", "The River Wend is still rising.", 2),
        ("Wend flood defences to be rebuilt", "Riverton council pays for the Wend repairs.", 10),
        ("Volunteers clear mud after the River Wend flood", "Riverton cleans up.", 20),
        ("Insurers count the cost of the Riverton floods", "Wend flood claims.", 30),
    ]
    flood_ids = store_articles(
        [
            article(n, monday + timedelta(hours=hours), title=title, summary=summary)
            for n, (title, summary, hours) in enumerate(flood)
        ]
    )
    one_offs = [
        ("Bakery wins a national bread award", "Sourdough from the high street."),
        ("Chess club turns fifty", "Members old and new celebrate."),
        ("New bus timetable starts Monday", "Earlier first buses."),
        ("Comet seen over the city", "Clear skies for stargazers."),
        ("Orchestra names a new conductor", "She starts in spring."),
    ]
    later = store_articles(  # each newer than every flood piece
        [
            article(100 + n, now - timedelta(hours=n + 1), title=t, summary=s, section=f"S{n}")
            for n, (t, s) in enumerate(one_offs)
        ]
    )
    result = digests.build_digest(db, settings, now)
    assert result.outcome == "created", result.message
    items = digests.find_digest(db, result.digest_id).items
    assert items[0].article_id in flood_ids[1:]  # the story leads; the piece before the week can't
    assert [i.article_id for i in items[1:]] == later[:4]
    siblings = [r.article_id for r in items[0].related]
    assert len(siblings) == settings.digest_related and set(siblings) <= set(flood_ids)


def test_the_subject_names_the_newsletter_it_is_built_for(db, settings, now, store_articles):
    """{list_name} in MAILER_DIGEST_SUBJECT is the newsletter's own name, MAILER_LIST_NAME
    for the default newsletter (what its readers have always seen)."""
    from dataclasses import replace

    from mailer.readers import newsletters

    named = replace(settings, digest_subject="{list_name}: {headline}")
    newsletters.add(db, now, slug="daily", name="Daily Brief", cadence="daily")
    store_articles([article(n, now - timedelta(hours=n), title=f"Story {n}") for n in range(1, 4)])
    daily = digests.find_digest(
        db, digests.build_digest(db, named, now, newsletter="daily").digest_id
    )
    weekly = digests.find_digest(db, digests.build_digest(db, named, now).digest_id)
    assert daily.subject == "Daily Brief: Story 1"
    assert weekly.subject == f"{settings.list_name}: Story 1"
