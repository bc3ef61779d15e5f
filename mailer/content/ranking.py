"""Pure functions: weeks and the week's top stories (related coverage is in related.py)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime


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
    source: int | None = None  # where it came from (a feed, a site), to count a story's breadth
    sticky: bool = False  # the site keeps it at the top of its front page (WordPress)
    position: int | None = None  # best place it held in its source's listing, 0 the first


@dataclass(frozen=True)
class RankParams:
    top: int = 5
    max_per_section: int = 2
    related: int = 3  # how many related pieces under each story (scored in related.py)


# An editor's pick outweighs any view count a week brings (log1p(100k views) is about 11.5).
EDITOR_PICK_BONUS = 8.0


def reader_interest(doc: Doc) -> int:
    """Readers' actions in one count, a click or share worth more than a view."""
    return doc.views + 5 * doc.clicks + 3 * doc.shares + 2 * doc.comments


def freshness(published_at: datetime, period_end: datetime) -> float:
    """1 at the period's end, a half a week before it."""
    age_days = max((period_end - published_at).total_seconds() / 86400, 0.0)
    return 1.0 / (1.0 + age_days / 7.0)


def engagement_score(doc: Doc, period_end: datetime) -> float:
    """Reader interest, editor judgement and freshness in one number."""
    interest = math.log1p(reader_interest(doc))
    pick = EDITOR_PICK_BONUS if doc.editor_pick else 0.0
    return interest + pick + freshness(doc.published_at, period_end)


def top_stories(
    candidates: Iterable[Doc],
    params: RankParams,
    period_end: datetime,
    exclude_ids: Iterable[int] = (),
    scores: Mapping[int, float] | None = None,
    interest: Mapping[int, float] | None = None,
) -> list[tuple[Doc, float]]:
    """The best stories of a period, at most `max_per_section` from any one section; `scores`
    (by doc id) replaces each piece's own engagement score, e.g. with its story's, and
    `interest` adds a bonus per doc id on top (readers' clicks on earlier issues' stories)."""
    if params.top <= 0:
        return []
    excluded = set(exclude_ids)
    bonus = interest or {}

    def score(doc: Doc) -> float:
        own = scores[doc.id] if scores is not None else engagement_score(doc, period_end)
        return own + bonus.get(doc.id, 0.0)

    scored = sorted(
        ((doc, score(doc)) for doc in candidates if doc.id not in excluded),
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
