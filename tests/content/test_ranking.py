"""Ranking is pure: weeks, top stories and related coverage from plain Doc values."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailer.content.calendar import period_bounds, period_key
from mailer.content.ranking import (
    Doc,
    RankParams,
    RelatedIndex,
    normalise_title,
    related_coverage,
    tokens,
    top_stories,
)

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def doc(n, title, summary="", section="News", days=0.0, tags=(), **stats) -> Doc:
    return Doc(n, title, summary, section, tuple(tags), T0 - timedelta(days=days), **stats)


def test_period_key_is_the_iso_week_in_the_newsroom_zone():
    assert period_key(datetime(2019, 1, 22, 12, tzinfo=UTC), LONDON) == "2019-W04"
    # 23:30 UTC on Sunday is already Monday in Auckland: the next week there
    sunday_night = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert period_key(sunday_night, LONDON) == "2026-W48"
    assert period_key(sunday_night, ZoneInfo("Pacific/Auckland")) == "2026-W49"
    # ISO years differ from calendar years at the edges
    assert period_key(datetime(2021, 1, 3, 12, tzinfo=UTC), LONDON) == "2020-W53"


def test_period_bounds_run_local_midnight_to_midnight_and_round_trip():
    start, end = period_bounds("2019-W04", LONDON)
    assert start.isoformat() == "2019-01-21T00:00:00+00:00"
    assert end - start == timedelta(days=7)
    # the week the clocks go back is 169 hours long
    start, end = period_bounds("2026-W43", LONDON)
    assert (end - start).total_seconds() == 169 * 3600
    assert period_key(start, LONDON) == "2026-W43"
    assert period_key(end - timedelta(seconds=1), LONDON) == "2026-W43"
    assert period_key(end, LONDON) == "2026-W44"


@pytest.mark.parametrize("bad", ["2019-W54", "2019-4", "W04-2019", "", "2019-w04x"])
def test_period_bounds_refuse_what_is_not_a_week(bad):
    with pytest.raises(ValueError, match="week"):
        period_bounds(bad, LONDON)


def test_top_stories_weigh_engagement_picks_and_recency():
    docs = [
        doc(1, "Quiet piece", views=10),
        doc(2, "Popular piece", views=5000),
        doc(3, "Clicked in the last digest", views=100, clicks=900),
        doc(4, "Editor's pick", views=50, editor_pick=True),
        doc(5, "Old popular piece", views=5000, days=6),
    ]
    chosen = [d.id for d, _ in top_stories(docs, RankParams(top=5, max_per_section=5), T0)]
    assert chosen.index(2) < chosen.index(5)  # same views, newer first
    assert chosen[-1] == 1
    assert set(chosen[:3]) == {2, 3, 4}


def test_top_stories_cap_each_section_and_skip_recent_top_stories():
    docs = [doc(n, f"Politics {n}", section="Politics", views=1000 - n) for n in range(1, 6)]
    docs += [doc(10 + n, f"Sport {n}", section="Sport", views=10 - n) for n in range(1, 4)]
    chosen = top_stories(docs, RankParams(top=5, max_per_section=2), T0, exclude_ids={1})
    ids = [d.id for d, _ in chosen]
    assert ids == [2, 3, 11, 12]  # two per section; 1 was a top story lately
    assert all(score > 0 for _, score in chosen)


def test_top_stories_drop_the_same_piece_published_twice():
    docs = [doc(1, "Budget passes!", views=900), doc(2, "Budget passes", views=800)]
    docs.append(doc(3, "Something else", views=1))
    ids = [d.id for d, _ in top_stories(docs, RankParams(max_per_section=5), T0)]
    assert ids == [1, 3]


def test_top_stories_are_deterministic_whatever_the_input_order():
    docs = [doc(n, f"Piece {n}", section=f"S{n % 3}", views=100) for n in range(1, 20)]
    first = top_stories(docs, RankParams(), T0)
    again = top_stories(list(reversed(docs)), RankParams(), T0)
    assert [d.id for d, _ in first] == [d.id for d, _ in again]


def test_tokens_drop_stopwords_and_fold_plurals():
    assert tokens("The libraries\u2019 budgets and the Library budget") == [
        "library",
        "budget",
        "library",
        "budget",
    ]
    assert normalise_title("Café:  Déjà vu!") == "cafe deja vu"


ARCHIVE = [
    doc(
        1,
        "Council votes to close two branch libraries",
        "Budget cuts hit libraries.",
        section="Politics",
        tags=("libraries",),
    ),
    doc(
        2,
        "Libraries closure vote delayed by council",
        "The council delays the libraries vote.",
        section="Politics",
        days=10,
        tags=("libraries",),
    ),
    doc(
        3,
        "Readers rally to save branch libraries",
        "Protest over library closures.",
        section="Local",
        days=20,
        tags=("libraries",),
    ),
    doc(
        4,
        "Council votes to close two branch libraries",
        "Same piece, syndicated.",
        section="Politics",
        days=1,
    ),
    doc(5, "Rovers win the derby", "Football match report.", section="Sport", days=2),
    doc(
        6,
        "Council votes to close two branch libraries today",
        "Budget cuts hit libraries.",
        section="Politics",
        days=3,
    ),
    doc(
        7,
        "Libraries closure vote delayed by the council",
        "The council delays the vote.",
        section="Politics",
        days=11,
        tags=("libraries",),
    ),
]


def test_related_coverage_finds_the_story_and_nothing_unrelated():
    index = RelatedIndex.build(ARCHIVE, RankParams())
    related = related_coverage(index, ARCHIVE[0], 3)
    ids = [r.doc.id for r in related]
    assert 1 not in ids  # not itself
    assert 4 not in ids and 6 not in ids  # the same piece re-published
    assert 5 not in ids  # below the threshold
    assert 2 in ids and 3 in ids
    assert not ({2, 7} <= set(ids))  # two near-duplicates are never both shown
    assert [r.score for r in related] == sorted((r.score for r in related), reverse=True)
    assert all(r.score >= RankParams().threshold for r in related)


def test_related_coverage_leaves_out_what_the_issue_already_shows():
    index = RelatedIndex.build(ARCHIVE, RankParams())
    ids = [r.doc.id for r in related_coverage(index, ARCHIVE[0], 3, exclude_ids={2, 7})]
    assert ids == [3]


def test_related_coverage_decays_with_distance_in_days():
    near = [ARCHIVE[0], replace(ARCHIVE[2], published_at=T0 - timedelta(days=5))]
    far = [ARCHIVE[0], replace(ARCHIVE[2], published_at=T0 - timedelta(days=150))]
    score_near = related_coverage(RelatedIndex.build(near, RankParams()), near[0], 3)[0].score
    far_related = related_coverage(RelatedIndex.build(far, RankParams(threshold=0.0)), far[0], 3)
    assert far_related[0].score < score_near
    assert related_coverage(RelatedIndex.build(far, RankParams()), far[0], 3) == []


def test_related_coverage_is_deterministic_and_respects_k():
    index = RelatedIndex.build(ARCHIVE, RankParams())
    shuffled = RelatedIndex.build(list(reversed(ARCHIVE)), RankParams())
    one = [(r.doc.id, r.score) for r in related_coverage(index, ARCHIVE[0], 3)]
    two = [(r.doc.id, r.score) for r in related_coverage(shuffled, ARCHIVE[0], 3)]
    assert one == two
    assert len(related_coverage(index, ARCHIVE[0], 1)) == 1
    assert related_coverage(index, ARCHIVE[0], 0) == []


def test_a_story_outside_the_index_gets_nothing_rather_than_an_error():
    index = RelatedIndex.build(ARCHIVE[1:], RankParams())
    assert related_coverage(index, doc(99, "Unknown"), 3) == []


def test_related_for_one_story_needs_no_index_by_hand():
    from mailer.content.ranking import related

    story = doc(50, "Council votes to close two branch libraries", "Budget cuts.")
    ids = [r.doc.id for r in related(story, ARCHIVE[1:], 3)]
    assert 2 in ids or 7 in ids  # the closest follow-up, once
    assert not {4, 5, 6} & set(ids)  # copies of the story and the football report stay out
    assert related(story, ARCHIVE[1:], 3, exclude_ids={2, 3, 7}) == []


def pdoc(i, title, section="News", days=0, views=0, pick=False, tags=(), summary=""):
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
        pdoc(1, "Alpha wins", "Sport", views=900),
        pdoc(2, "Beta wins", "Sport", views=800),
        pdoc(3, "Gamma wins", "Sport", views=700),
        pdoc(4, "Council votes", "Politics", views=100),
        pdoc(5, "Alpha wins!", "Culture", views=850),  # the same headline again
        pdoc(6, "Quiet story", "Culture", views=10, pick=True),
        pdoc(7, "Old top story", "Business", views=5000),
    ]
    chosen = top_stories(docs, RankParams(top=5, max_per_section=2), T0, exclude_ids={7})
    ids = [d.id for d, _ in chosen]
    assert ids[:2] == [6, 1]  # the editor's pick outranks raw views
    assert 3 not in ids and 5 not in ids and 7 not in ids
    assert ids == [6, 1, 2, 4]


def test_top_stories_are_deterministic():
    docs = [pdoc(i, f"Story number {i}", f"S{i % 3}", views=100) for i in range(20)]
    first = top_stories(docs, RankParams(), T0)
    assert first == top_stories(list(reversed(docs)), RankParams(), T0)


def test_tokens_fold_plurals_and_drop_stopwords():
    assert tokens("The libraries of Riverton's councils") == ["library", "riverton", "council"]


def test_related_coverage_finds_the_story_and_skips_copies_and_shown_items():
    docs = [
        pdoc(1, "Council passes budget keeping libraries open", "Politics", 0, tags=["budget"]),
        pdoc(2, "Council passes budget, keeping libraries open", "Politics", 0),  # re-published
        pdoc(3, "Library closures split the council budget vote", "Politics", 14, tags=["budget"]),
        pdoc(4, "Draft budget proposes closing two libraries", "Politics", 30, tags=["budget"]),
        pdoc(5, "Protest to save branch libraries from budget cuts", "Local", 20),
        pdoc(6, "Football club wins the derby", "Sport", 1),
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
    docs = [pdoc(1, "Comet seen over the city"), pdoc(2, "Bakery wins bread award")]
    index = RelatedIndex.build(docs, RankParams())
    assert related_coverage(index, docs[0], 3) == []
