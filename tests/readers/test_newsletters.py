"""The newsletters on offer: kept a few seconds per process, forgotten when they change here."""

from mailer.core.db import Database
from mailer.readers import newsletters


def _slugs(found: list[newsletters.Offer]) -> list[str]:
    return [offer.slug for offer in found]


def test_a_newsletter_added_here_is_offered_at_once(db, now):
    assert _slugs(newsletters.offers(db)) == ["weekly"]
    newsletters.add(db, now, slug="daily", name="Daily")
    assert _slugs(newsletters.offers(db)) == ["weekly", "daily"]
    newsletters.edit(db, "daily", now, name="A daily")
    assert [o.name for o in newsletters.offers(db)][1] == "A daily"


def test_another_process_change_shows_once_the_kept_answer_is_old(db, now):
    """Another process (here another engine on the same database) adds one: this process
    offers what it kept until the answer is older than max_age."""
    assert _slugs(newsletters.offers(db)) == ["weekly"]
    other = Database(db.url)
    try:
        newsletters.add(other, now, slug="sport", name="Sport")
    finally:
        other.dispose()
    assert _slugs(newsletters.offers(db)) == ["weekly"]
    assert _slugs(newsletters.offers(db, max_age=0)) == ["weekly", "sport"]
    assert _slugs(newsletters.offers(db)) == ["weekly", "sport"]


def test_callers_get_their_own_list(db):
    first = newsletters.offers(db)
    first.clear()
    assert _slugs(newsletters.offers(db)) == ["weekly"]
