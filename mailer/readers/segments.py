"""Saved, named reader segments: rules in a fixed schema turned into WHERE clauses that narrow
who a digest goes to. Nothing typed on the web ever becomes SQL: only these keys exist."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import ColumnElement, or_, select

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.errors import Conflict, MailerError, NotFound
from mailer.core.models import Digest, ReaderClick, Segment, Subscriber

CLICK_KINDS = ("story", "related")  # links readers followed; opens never count
MAX_ISSUES = 52
MAX_VALUES = 20
SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
WORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
RULES = (
    "source",
    "confirmed_since",
    "language",
    "clicked_in_last_n_issues",
    "not_clicked_in_last_n_issues",
)
ENGAGEMENT = ("clicked_in_last_n_issues", "not_clicked_in_last_n_issues")
# stored beside a language rule that names the default language: readers with none recorded
UNSET_LANGUAGE = "language_unset"


class SegmentError(MailerError):
    """A segment's rules or name that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class SegmentView:
    """A segment as the desk and the CLI list it."""

    id: int
    slug: str
    name: str
    rules: dict[str, Any]

    def describe(self) -> str:
        return describe(self.rules)


def _words(key: str, value: object) -> list[str]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise SegmentError(f"{key} must be a list of words.")
    words = sorted({str(v).strip() for v in items if str(v).strip()})
    if not words or len(words) > MAX_VALUES:
        raise SegmentError(f"{key} takes between 1 and {MAX_VALUES} values.")
    for word in words:
        if not WORD.match(word):
            raise SegmentError(f"{key}: {word[:40]!r} is not a plain word.")
    return words


def _issues(key: str, value: object) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise SegmentError(f"{key} must be a whole number of issues.") from None
    if not 1 <= number <= MAX_ISSUES:
        raise SegmentError(f"{key} must be between 1 and {MAX_ISSUES}.")
    return number


def validate_rules(
    raw: object, click_tracking: str, languages: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The rules in their one stored form, or a SegmentError saying what is wrong. Readers
    with no recorded language read the default one (the first of `languages`, as settings put
    it), so a rule naming it holds them too."""
    if not isinstance(raw, dict):
        raise SegmentError("rules must be an object of known keys.")
    given = {k: v for k, v in raw.items() if v not in (None, "", [], ())}
    unknown = sorted(set(given) - set(RULES))
    if unknown:
        raise SegmentError(f"unknown rule {unknown[0][:40]!r}; known: {', '.join(RULES)}.")
    if not given:
        raise SegmentError("a segment needs at least one rule.")
    rules: dict[str, Any] = {}
    for key in ("source", "language"):
        if key in given:
            rules[key] = _words(key, given[key])
    if "confirmed_since" in given:
        try:
            rules["confirmed_since"] = date.fromisoformat(str(given["confirmed_since"])).isoformat()
        except ValueError:
            raise SegmentError("confirmed_since must be a date, YYYY-MM-DD.") from None
    unknown_language = [w for w in rules.get("language", []) if languages and w not in languages]
    if unknown_language:
        offered = ", ".join(languages)
        raise SegmentError(f"language {unknown_language[0]!r} is not offered ({offered}).")
    if languages and languages[0] in rules.get("language", []):
        rules[UNSET_LANGUAGE] = True
    engagement = [k for k in ENGAGEMENT if k in given]
    if len(engagement) > 1:
        raise SegmentError("give clicked or not-clicked, not both.")
    for key in engagement:
        if click_tracking != "per_reader":
            raise SegmentError(f"{key} needs per-reader clicks (MAILER_CLICK_TRACKING=per_reader).")
        rules[key] = _issues(key, given[key])
    return rules


def _last_issues(count: int):
    """The ids of the last `count` issues that finished sending."""
    return (
        select(Digest.id)
        .where(Digest.status == "sent")
        .order_by(Digest.sent_at.desc(), Digest.id.desc())
        .limit(count)
    )


def clicked_in(count: int) -> ColumnElement[bool]:
    """The reader followed a link in one of the last `count` issues (clicks, never opens)."""
    return (
        select(ReaderClick.subscriber_id)
        .where(
            ReaderClick.subscriber_id == Subscriber.id,
            ReaderClick.kind.in_(CLICK_KINDS),
            ReaderClick.clicks > 0,
            ReaderClick.digest_id.in_(_last_issues(count).scalar_subquery()),
        )
        .exists()
    )


def narrow(rules: dict[str, Any] | None) -> list[ColumnElement[bool]]:
    """WHERE clauses on subscribers for a segment's rules, beside the eligible readers'
    (confirmed_since counts from midnight UTC)."""
    if not rules:
        return []
    clauses: list[ColumnElement[bool]] = []
    if "source" in rules:
        clauses.append(Subscriber.origin.in_(rules["source"]))
    if "confirmed_since" in rules:
        day = date.fromisoformat(rules["confirmed_since"])
        clauses.append(Subscriber.confirmed_at >= datetime.combine(day, time(), UTC))
    if "language" in rules:
        chosen = Subscriber.language.in_(rules["language"])
        unset = Subscriber.language.is_(None)
        clauses.append(or_(chosen, unset) if rules.get(UNSET_LANGUAGE) else chosen)
    if "clicked_in_last_n_issues" in rules:
        clauses.append(clicked_in(rules["clicked_in_last_n_issues"]))
    if "not_clicked_in_last_n_issues" in rules:
        clauses.append(~clicked_in(rules["not_clicked_in_last_n_issues"]))
    return clauses


def describe(rules: dict[str, Any]) -> str:
    """The rules in words, for the desk and the CLI."""
    words = []
    if "source" in rules:
        words.append("signed up through " + " or ".join(rules["source"]))
    if "confirmed_since" in rules:
        words.append(f"confirmed on or after {rules['confirmed_since']}")
    if "language" in rules:
        words.append("reading in " + " or ".join(rules["language"]))
    if "clicked_in_last_n_issues" in rules:
        words.append(f"clicked a link in the last {rules['clicked_in_last_n_issues']} issues")
    if "not_clicked_in_last_n_issues" in rules:
        n = rules["not_clicked_in_last_n_issues"]
        words.append(f"clicked no link in the last {n} issues")
    return "; ".join(words)


def offered_languages(settings: Settings) -> tuple[str, ...]:
    """The languages a rule may name, the default first (readers with none recorded read it)."""
    rest = [code for code in settings.languages if code != settings.default_language]
    return (settings.default_language, *rest)


def slug_for(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64]


def add_segment(
    db: Database,
    name: str,
    rules: object,
    click_tracking: str,
    now: datetime,
    slug: str = "",
    languages: tuple[str, ...] = (),
) -> SegmentView:
    """Save a named segment; its slug is how the CLI and a send name it."""
    name = " ".join(name.split())
    if not 1 <= len(name) <= 128:
        raise SegmentError("give a name of 1 to 128 characters.")
    slug = slug.strip() or slug_for(name)
    if not SLUG.match(slug) or slug.isdigit():
        raise SegmentError(
            "a slug is lower-case letters, digits and dashes (up to 64), not only digits."
        )
    checked = validate_rules(rules, click_tracking, languages)
    with db.session() as session:
        if session.scalar(select(Segment.id).where(Segment.slug == slug)) is not None:
            raise Conflict(f"a segment {slug} exists already.")
        row = Segment(slug=slug, name=name, rules=checked, created_at=now, updated_at=now)
        session.add(row)
        session.flush()
        return SegmentView(row.id, row.slug, row.name, dict(row.rules))


def list_segments(db: Database) -> list[SegmentView]:
    with db.session() as session:
        rows = session.scalars(select(Segment).order_by(Segment.name)).all()
        return [SegmentView(r.id, r.slug, r.name, dict(r.rules)) for r in rows]


def find_segment(db: Database, ref: str | int) -> SegmentView:
    """A segment by slug or id."""
    with db.session() as session:
        column = Segment.id if isinstance(ref, int) or str(ref).isdigit() else Segment.slug
        value = int(ref) if column is Segment.id else str(ref)
        row = session.scalar(select(Segment).where(column == value))
        if row is None:
            raise NotFound(f"no segment {str(ref)[:64]}.")
        return SegmentView(row.id, row.slug, row.name, dict(row.rules))


UNSENT = ("draft", "approved", "sending", "paused")


def remove_segment(db: Database, ref: str | int) -> SegmentView:
    """Remove a segment no issue still waiting to go targets (sent issues keep their record in
    the audit log)."""
    view = find_segment(db, ref)
    with db.session() as session:
        waiting = session.scalar(
            select(Digest.period_key).where(Digest.segment_id == view.id, Digest.status.in_(UNSENT))
        )
        if waiting is not None:
            raise Conflict(f"{waiting} targets {view.slug}; target it elsewhere first.")
        session.delete(session.get(Segment, view.id))
    return view


def digest_rules(session, digest_id: int) -> dict[str, Any] | None:
    """The rules of the segment a digest targets (None: every reader)."""
    return session.scalar(
        select(Segment.rules)
        .join(Digest, Digest.segment_id == Segment.id)
        .where(Digest.id == digest_id)
    )
