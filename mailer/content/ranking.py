"""Pure functions: weeks and the week's top stories (related coverage is in related.py)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

_PERIOD = re.compile(r"^(\d{4})-W(\d{2})$")


def period_key(moment: datetime, zone: ZoneInfo) -> str:
    """The ISO week that contains `moment` in the newsroom's zone, e.g. 2019-W04."""
    year, week, _ = moment.astimezone(zone).isocalendar()
    return f"{year}-W{week:02d}"


def parse_period(key: str) -> tuple[int, int]:
    match = _PERIOD.match(key)
    if not match:
        raise ValueError(f"{key!r} is not a week such as 2019-W04")
    year, week = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValueError(f"{key!r} is not a week of {year}") from None
    return year, week


def period_bounds(key: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) of an ISO week in UTC: local midnight to midnight."""
    year, week = parse_period(key)
    monday = date.fromisocalendar(year, week, 1)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=zone)
    following = monday + timedelta(days=7)
    end = datetime(following.year, following.month, following.day, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True)
class Doc:
    """What ranking needs to know of an article."""

    id: int
    title: str
    summary: str
    section: str | None
    tags: tuple[str, ...]
    published_at: datetime
    views: int = 0
    clicks: int = 0
    shares: int = 0
    comments: int = 0
    editor_pick: bool = False


@dataclass(frozen=True)
class RankParams:
    top: int = 5
    max_per_section: int = 2
    related: int = 3  # how many related pieces under each story (scored in related.py)


# An editor's pick outweighs any view count a week brings (log1p(100k views) is about 11.5).
EDITOR_PICK_BONUS = 8.0


def engagement_score(doc: Doc, period_end: datetime) -> float:
    """Reader interest, editor judgement and freshness in one number."""
    interest = math.log1p(doc.views + 5 * doc.clicks + 3 * doc.shares + 2 * doc.comments)
    age_days = max((period_end - doc.published_at).total_seconds() / 86400, 0.0)
    freshness = 1.0 / (1.0 + age_days / 7.0)
    return interest + (EDITOR_PICK_BONUS if doc.editor_pick else 0.0) + freshness


def top_stories(
    candidates: Iterable[Doc],
    params: RankParams,
    period_end: datetime,
    exclude_ids: Iterable[int] = (),
) -> list[tuple[Doc, float]]:
    """The best stories of a period, at most `max_per_section` from any one section."""
    if params.top <= 0:
        return []
    excluded = set(exclude_ids)
    scored = sorted(
        ((doc, engagement_score(doc, period_end)) for doc in candidates if doc.id not in excluded),
        key=lambda pair: (-pair[1], -pair[0].published_at.timestamp(), pair[0].id),
    )
    chosen: list[tuple[Doc, float]] = []
    per_section: Counter[str] = Counter()
    titles: list[str] = []
    for doc, score in scored:
        section = (doc.section or "").lower()
        if per_section[section] >= params.max_per_section:
            continue
        if normalise_title(doc.title) in titles:
            continue  # the same piece published twice
        chosen.append((doc, score))
        titles.append(normalise_title(doc.title))
        per_section[section] += 1
        if len(chosen) >= params.top:
            break
    return chosen


# --- text -------------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _ascii_lower(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return text.lower()


def normalise_title(title: str) -> str:
    """A title reduced to its words: two titles equal here are the same piece re-published."""
    return " ".join(_WORD.findall(_ascii_lower(title)))
