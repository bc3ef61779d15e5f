from datetime import timedelta

import pytest
from sqlalchemy import select

from mailer.content.articles import ArticleData, set_stats, upsert_article
from mailer.content.demo import load_demo
from mailer.core.errors import Conflict, MailerError
from mailer.core.models import AuditEntry, Digest
from mailer.editions import digests


@pytest.fixture
def demo(db, now, settings):
    load_demo(db, now, settings.zone)


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
    assert digest.subject.startswith(settings.list_name)


def test_too_few_articles_means_no_digest(db, settings, now):
    result = digests.build_digest(db, settings, now, period="2019-W04")
    assert result.outcome == "too_few"
    assert "MAILER_DIGEST_MIN_ITEMS" in result.message
    assert digests.digest_count(db) == 0


def test_rebuild_replaces_a_draft_and_keeps_pins_but_never_an_approved_one(db, settings, now, demo):
    built = digests.build_digest(db, settings, now)
    digest = digests.find_digest(db, built.digest_id)
    last = sorted(digest.items, key=lambda i: i.position)[-1]
    digests.set_pinned(db, built.digest_id, last.id, True, "ed", now)
    rebuilt = digests.build_digest(db, settings, now, rebuild=True)
    assert rebuilt.outcome == "rebuilt"
    fresh = digests.find_digest(db, rebuilt.digest_id)
    assert last.article_id in [i.article_id for i in fresh.items if i.pinned]
    digests.approve(db, settings, rebuilt.digest_id, "ed", now)
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
    digests.set_text(
        db, built.digest_id, "ed@example.com", now, subject="New subject", intro="Hello readers."
    )
    digests.move_item(db, built.digest_id, items[2].id, -2, "ed@example.com", now)
    digests.exclude_item(db, built.digest_id, items[4].id, "ed@example.com", now)
    rel = items[0].related[0]
    digests.remove_related(db, built.digest_id, rel.id, "ed@example.com", now)
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
        digests.set_text(db, built.digest_id, "ed", now, subject="   ")


def test_approved_digest_cannot_be_edited_until_withdrawn(db, settings, now, demo):
    built = digests.build_digest(db, settings, now)
    digests.approve(db, settings, built.digest_id, "ed", now)
    with pytest.raises(Conflict, match="withdraw"):
        digests.set_text(db, built.digest_id, "ed", now, subject="x")
    digests.withdraw(db, built.digest_id, "ed", now, veto=True)
    digest = digests.find_digest(db, built.digest_id)
    assert digest.status == "draft" and digest.vetoed


def test_find_digest_by_id_or_period(db, settings, now, demo):
    built = digests.build_digest(db, settings, now)
    assert digests.find_digest(db, str(built.digest_id)).period_key == built.period
    assert digests.find_digest(db, built.period.lower()).id == built.digest_id
    with pytest.raises(MailerError, match="no digest"):
        digests.find_digest(db, "1999-W01")
