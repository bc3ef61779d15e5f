"""Readers' clicks on last issues' stories as a small boost for their follow-ups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailer.content.ranking import Doc, RankParams, top_stories
from mailer.content.related import FOLLOW_UP_BONUS, follow_up_interest

WEEK_END = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)


def doc(n: int, title: str, summary: str, days_ago: float = 2, **stats) -> Doc:
    return Doc(
        id=n,
        title=title,
        summary=summary,
        section="News",
        tags=(),
        published_at=WEEK_END - timedelta(days=days_ago),
        **stats,
    )


BRIDGE = doc(
    1, "Harbour bridge closes for urgent cable repairs", "Engineers found corroded cables.", 9
)
FLOODS = doc(2, "River floods the lower town after storm", "Homes evacuated near the river.", 9)
FOLLOW_UP = doc(
    10,
    "Harbour bridge cable repairs to last all winter",
    "Engineers say the corroded cables need replacing.",
    views=100,
)
FLOOD_FOLLOW_UP = doc(
    11, "Lower town counts the cost of river floods", "Homes near the river flooded.", views=100
)
UNRELATED = doc(12, "Library opens a new reading room", "Books and quiet desks.", 1, views=100)
CANDIDATES = [FOLLOW_UP, FLOOD_FOLLOW_UP, UNRELATED]


def test_no_clicks_no_interest():
    assert follow_up_interest(CANDIDATES, []) == {}
    assert follow_up_interest(CANDIDATES, [(BRIDGE, 0)]) == {}


def test_follow_ups_of_clicked_stories_get_a_bonus_in_proportion_to_clicks():
    interest = follow_up_interest(CANDIDATES, [(BRIDGE, 40), (FLOODS, 10)])
    assert interest == {FOLLOW_UP.id: FOLLOW_UP_BONUS, FLOOD_FOLLOW_UP.id: FOLLOW_UP_BONUS / 4}


def test_the_bonus_lifts_a_follow_up_over_an_equal_story_but_not_over_a_clearly_better_one():
    params = RankParams(top=1)
    interest = follow_up_interest(CANDIDATES, [(BRIDGE, 5)])
    assert top_stories(CANDIDATES, params, WEEK_END)[0][0] == UNRELATED  # fresher, no clicks
    [(chosen, _score)] = top_stories(CANDIDATES, params, WEEK_END, interest=interest)
    assert chosen == FOLLOW_UP
    popular = doc(13, "Mayor resigns", "A surprise at the town hall.", 1, views=5000)
    [(chosen, _)] = top_stories([*CANDIDATES, popular], params, WEEK_END, interest=interest)
    assert chosen == popular  # a small boost never overrules a week's real interest
