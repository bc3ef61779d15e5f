"""Ranking is pure: weeks and top stories from plain Doc values (related coverage: test_related)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from mailer.content.calendar import period_bounds, period_key
from mailer.content.ranking import Doc, RankParams, normalise_title, top_stories

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


def test_normalise_title_keeps_only_the_words():
    assert normalise_title("Café:  Déjà vu!") == "cafe deja vu"


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
