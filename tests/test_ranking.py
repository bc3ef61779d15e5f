from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailer.content.ranking import (
    Doc,
    RankParams,
    RelatedIndex,
    period_bounds,
    period_key,
    related_coverage,
    tokens,
    top_stories,
)

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 25, 12, tzinfo=UTC)


def doc(i, title, section="News", days=0, views=0, pick=False, tags=(), summary=""):
    return Doc(
        i,
        title,
        summary,
        section,
        tuple(tags),
        T0 - timedelta(days=days),
        views=views,
        editor_pick=pick,
    )


def test_period_key_uses_the_newsroom_zone():
    # Sunday 23:30 UTC in summer is already Monday 00:30 in London: the next ISO week
    moment = datetime(2026, 7, 5, 23, 30, tzinfo=UTC)
    assert period_key(moment, LONDON) == "2026-W28"
    assert period_key(moment, ZoneInfo("UTC")) == "2026-W27"
    start, end = period_bounds("2026-W28", LONDON)
    assert start == datetime.fromisoformat("2026-07-06T00:00:00+01:00")  # returned in UTC
    assert end - start == timedelta(days=7)


@pytest.mark.parametrize("bad", ["2026-48", "2026-W54", "W48", ""])
def test_bad_periods_are_refused(bad):
    with pytest.raises(ValueError):
        period_bounds(bad, LONDON)


def test_top_stories_cap_per_section_and_skip_recent_and_duplicates():
    docs = [
        doc(1, "Alpha wins", "Sport", views=900),
        doc(2, "Beta wins", "Sport", views=800),
        doc(3, "Gamma wins", "Sport", views=700),
        doc(4, "Council votes", "Politics", views=100),
        doc(5, "Alpha wins!", "Culture", views=850),  # the same headline again
        doc(6, "Quiet story", "Culture", views=10, pick=True),
        doc(7, "Old top story", "Business", views=5000),
    ]
    chosen = top_stories(docs, RankParams(top=5, max_per_section=2), T0, exclude_ids={7})
    ids = [d.id for d, _ in chosen]
    assert ids[:2] == [6, 1]  # the editor's pick outranks raw views
    assert 3 not in ids and 5 not in ids and 7 not in ids
    assert ids == [6, 1, 2, 4]


def test_top_stories_are_deterministic():
    docs = [doc(i, f"Story number {i}", f"S{i % 3}", views=100) for i in range(20)]
    first = top_stories(docs, RankParams(), T0)
    assert first == top_stories(list(reversed(docs)), RankParams(), T0)


def test_tokens_fold_plurals_and_drop_stopwords():
    assert tokens("The libraries of Riverton's councils") == ["library", "riverton", "council"]


def test_related_coverage_finds_the_story_and_skips_copies_and_shown_items():
    docs = [
        doc(1, "Council passes budget keeping libraries open", "Politics", 0, tags=["budget"]),
        doc(2, "Council passes budget, keeping libraries open", "Politics", 0),  # re-published
        doc(3, "Library closures split the council budget vote", "Politics", 14, tags=["budget"]),
        doc(4, "Draft budget proposes closing two libraries", "Politics", 30, tags=["budget"]),
        doc(5, "Protest to save branch libraries from budget cuts", "Local", 20),
        doc(6, "Football club wins the derby", "Sport", 1),
    ]
    index = RelatedIndex.build(docs, RankParams())
    related = related_coverage(index, docs[0], 3)
    ids = [r.doc.id for r in related]
    assert 2 not in ids and 6 not in ids
    assert ids and ids[0] == 3
    assert set(ids) <= {3, 4, 5}
    assert all(r.score >= RankParams().threshold for r in related)
    without = related_coverage(index, docs[0], 3, exclude_ids={3})
    assert 3 not in [r.doc.id for r in without]


def test_nothing_below_the_threshold_is_shown():
    docs = [doc(1, "Comet seen over the city"), doc(2, "Bakery wins bread award")]
    index = RelatedIndex.build(docs, RankParams())
    assert related_coverage(index, docs[0], 3) == []
