"""Fitting where related coverage cuts (floor, background, nearness to the best) on judgments,
half the judged stories to fit and the other half to check, so the figures are not flattered."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import select

from mailer.content.calendar import period_bounds, period_key
from mailer.content.related import RelatedIndex, RelatedParams, choose, ranked_candidates
from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.errors import MailerError
from mailer.core.models import Article
from mailer.editions.judgments import Figures, Judgment, resolve, score

FLOORS = (0.08, 0.1, 0.12, 0.14, 0.16, 0.2)
BACKGROUNDS = (1.5, 2.0, 2.5, 3.0, 3.5)
RELATIVES = (0.5, 0.6, 0.7, 0.8)
ENOUGH = (0.2, 0.25, 0.3, 0.4)


@dataclass(frozen=True)
class Tuned:
    """The fitted cut, its figures on the stories it was fitted on and on the held-out ones,
    and the current defaults' figures on the held-out ones for comparison."""

    params: RelatedParams
    fit: Figures
    held_out: Figures
    default_held_out: Figures


@dataclass(frozen=True)
class _Ranking:
    index: RelatedIndex
    position: int
    ranked: Sequence[tuple[float, float, int]]
    background: float


def _rankings(db: Database, settings: Settings, story_ids: Iterable[int]) -> dict[int, _Ranking]:
    """Each story ranked once against its week's archive; every cut is tried on these."""
    from mailer.editions.digests import load_docs

    window = timedelta(days=settings.related_window_days)
    by_week: dict[str, list[int]] = defaultdict(list)
    rankings: dict[int, _Ranking] = {}
    with db.session() as session:
        for story_id, published in session.execute(
            select(Article.id, Article.published_at).where(Article.id.in_(list(story_ids)))
        ):
            by_week[period_key(published, settings.zone)].append(story_id)
        for week, stories in sorted(by_week.items()):
            start, end = period_bounds(week, settings.zone)
            index = RelatedIndex.build(load_docs(session, start - window, end))
            for story_id in stories:
                i = index.position[story_id]
                ranked, background = ranked_candidates(index, i)
                rankings[story_id] = _Ranking(index, i, ranked[:50], background)
    return rankings


def _figures(
    grades: dict[int, dict[int, int]],
    rankings: dict[int, _Ranking],
    stories: Sequence[int],
    cut: RelatedParams,
    k: int,
) -> Figures:
    shown = {
        s: [
            r.doc.id
            for r in choose(
                rankings[s].index,
                rankings[s].position,
                rankings[s].ranked,
                rankings[s].background,
                k,
                set(),
                cut,
            )
        ]
        for s in stories
    }
    return score({s: grades[s] for s in stories}, shown)


def tune(
    db: Database,
    settings: Settings,
    judgments: Sequence[Judgment],
    target_precision: float = 0.75,
) -> Tuned:
    """The cut that helps the most fitting stories while keeping their precision at the target
    (else the most precise one), checked on the held-out half."""
    grades, _missing = resolve(db, judgments)
    stories = sorted(grades)
    if len(stories) < 4:
        raise MailerError("tuning needs judgments on at least 4 stored stories.")
    fitting, held_out = stories[0::2], stories[1::2]
    rankings = _rankings(db, settings, stories)
    k = settings.digest_related
    base = RelatedParams()
    trials = []
    for floor, background, relative, enough in itertools.product(
        FLOORS, BACKGROUNDS, RELATIVES, ENOUGH
    ):
        cut = replace(base, floor=floor, background=background, relative=relative, enough=enough)
        figures = _figures(grades, rankings, fitting, cut, k)
        reached = figures.precision >= target_precision
        trials.append(((reached, figures.coverage if reached else 0.0, figures.precision), cut))
    trials.sort(key=lambda t: t[0], reverse=True)
    best = trials[0][1]
    return Tuned(
        best,
        _figures(grades, rankings, fitting, best, k),
        _figures(grades, rankings, held_out, best, k),
        _figures(grades, rankings, held_out, base, k),
    )
