"""How good related coverage is, measured against judgments: editors' choices on the desk
(added: related, removed: not) or a file of graded pairs (0 unrelated, 1 same topic, 2 same
story)."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.content.articles import find_article
from mailer.content.calendar import period_bounds, period_key
from mailer.content.related import RelatedIndex, RelatedParams, related_coverage
from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.errors import MailerError
from mailer.core.models import Article, RelatedJudgment

MAX_JUDGMENTS = 100_000


@dataclass(frozen=True)
class Judgment:
    """One graded pair: a story (id or link) and a candidate shown, or not, under it."""

    story: str
    candidate: str
    grade: int
    reason: str = ""


def read_judgments(path: Path) -> list[Judgment]:
    """Judgments from JSON Lines or CSV with story/query, candidate, grade and reason."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MailerError(f"cannot read {path}: {exc}.") from None
    if path.suffix.lower() == ".csv":
        records: Iterable[tuple[int, object]] = enumerate(csv.DictReader(text.splitlines()), 2)
    else:
        records = _json_lines(text)
    found = [_judgment(number, record) for number, record in records]
    if not found:
        raise MailerError(f"{path} holds no judgments.")
    if len(found) > MAX_JUDGMENTS:
        raise MailerError(f"{path} holds over {MAX_JUDGMENTS} judgments; split it.")
    return found


def _json_lines(text: str) -> Iterable[tuple[int, object]]:
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except ValueError:
                raise MailerError(f"line {number}: not JSON.") from None


def _judgment(number: int, record: object) -> Judgment:
    if not isinstance(record, dict):
        raise MailerError(f"line {number}: expected an object with story, candidate, grade.")
    story = record.get("story") or record.get("query")
    candidate = record.get("candidate")
    if not isinstance(story, str | int) or not isinstance(candidate, str | int):
        raise MailerError(f"line {number}: give the story (or query) and the candidate.")
    try:
        grade = int(record.get("grade"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise MailerError(f"line {number}: grade must be 0, 1 or 2.") from None
    if grade not in (0, 1, 2):
        raise MailerError(f"line {number}: grade must be 0, 1 or 2.")
    reason = record.get("reason") or ""
    return Judgment(str(story).strip(), str(candidate).strip(), grade, str(reason)[:512])


def desk_judgments(db: Database) -> list[Judgment]:
    """What editors chose on the desk, one judgment per story and piece (the latest word)."""
    with db.session() as session:
        rows = session.scalars(select(RelatedJudgment).order_by(RelatedJudgment.id)).all()
        return [Judgment(str(r.story_id), str(r.related_id), r.grade, r.reason) for r in rows]


def record_choice(
    session: Session,
    story_id: int | None,
    related_id: int | None,
    related: bool,
    actor: str,
    now: datetime,
) -> None:
    """Remember an editor adding (related) or removing (not) a piece under a story."""
    if story_id is None or related_id is None:
        return  # a story whose article is gone
    grade, reason = (1, "added on the desk") if related else (0, "removed on the desk")
    found = session.scalar(
        select(RelatedJudgment).where(
            RelatedJudgment.story_id == story_id, RelatedJudgment.related_id == related_id
        )
    )
    if found is None:
        found = RelatedJudgment(story_id=story_id, related_id=related_id)
        session.add(found)
    found.grade, found.reason, found.actor, found.judged_at = grade, reason, actor, now


@dataclass
class Figures:
    """Coverage: stories helped among those with something related judged. Precision: share of
    the judged pieces shown that are related. Pieces shown but never judged are counted apart."""

    stories: int = 0
    answerable: int = 0
    helped: int = 0
    shown: int = 0
    judged_shown: int = 0
    relevant_shown: int = 0
    missing: list[str] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        return self.helped / self.answerable if self.answerable else 0.0

    @property
    def precision(self) -> float:
        return self.relevant_shown / self.judged_shown if self.judged_shown else 0.0

    def as_dict(self) -> dict:
        return {
            "stories": self.stories,
            "stories_with_related": self.answerable,
            "stories_helped": self.helped,
            "coverage": round(self.coverage, 3),
            "shown": self.shown,
            "judged_shown": self.judged_shown,
            "relevant_shown": self.relevant_shown,
            "precision": round(self.precision, 3),
            "not_stored": self.missing[:20],
        }


def score(grades: Mapping[int, Mapping[int, int]], shown: Mapping[int, Sequence[int]]) -> Figures:
    """Figures for what was shown under each story, given the grades of (story, piece) pairs."""
    figures = Figures(stories=len(grades))
    for story, graded in grades.items():
        pieces = shown.get(story, ())
        hits = [p for p in pieces if graded.get(p, 0) >= 1]
        figures.shown += len(pieces)
        figures.judged_shown += sum(p in graded for p in pieces)
        figures.relevant_shown += len(hits)
        if any(g >= 1 for g in graded.values()):
            figures.answerable += 1
            figures.helped += bool(hits)
    return figures


def resolve(
    db: Database, judgments: Sequence[Judgment]
) -> tuple[dict[int, dict[int, int]], list[str]]:
    """Grades by stored article ids; references that match no stored article are listed."""
    grades: dict[int, dict[int, int]] = defaultdict(dict)
    missing: list[str] = []
    ids: dict[str, int | None] = {}
    with db.session() as session:
        for reference in {j.story for j in judgments} | {j.candidate for j in judgments}:
            article = find_article(session, reference)
            ids[reference] = article.id if article else None
    for j in judgments:
        story, candidate = ids[j.story], ids[j.candidate]
        if story is None or candidate is None:
            missing.extend(r for r in (j.story, j.candidate) if ids[r] is None)
            continue
        grades[story][candidate] = j.grade
    return dict(grades), sorted(set(missing))


def shown_under(
    db: Database,
    settings: Settings,
    story_ids: Iterable[int],
    params: RelatedParams | None = None,
) -> dict[int, list[int]]:
    """What a digest of each story's week would show under it: the week and the window before."""
    from mailer.editions.digests import load_docs

    window = timedelta(days=settings.related_window_days)
    by_week: dict[str, list[int]] = defaultdict(list)
    with db.session() as session:
        for story_id, published in session.execute(
            select(Article.id, Article.published_at).where(Article.id.in_(list(story_ids)))
        ):
            by_week[period_key(published, settings.zone)].append(story_id)
        shown: dict[int, list[int]] = {}
        for week, stories in sorted(by_week.items()):
            start, end = period_bounds(week, settings.zone)
            index = RelatedIndex.build(load_docs(session, start - window, end), params)
            for story_id in stories:
                story = index.docs[index.position[story_id]]
                found = related_coverage(index, story, settings.digest_related)
                shown[story_id] = [r.doc.id for r in found]
    return shown


def evaluate(
    db: Database,
    settings: Settings,
    judgments: Sequence[Judgment],
    params: RelatedParams | None = None,
) -> Figures:
    """Coverage and precision of related coverage as the product runs it, on these judgments."""
    grades, missing = resolve(db, judgments)
    figures = score(grades, shown_under(db, settings, grades, params))
    figures.missing = missing
    return figures
