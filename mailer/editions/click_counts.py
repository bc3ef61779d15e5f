"""Counting clicks on digest links: one upsert per click, per digest link, day and source."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mailer.content.ranking import Doc
from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.models import (
    Article,
    ClickCount,
    Delivery,
    Digest,
    DigestItem,
    DigestRelated,
    ReaderClick,
)
from mailer.editions.clicks import redirect_base
from mailer.editions.machines import machine_reason

SENT_STATUSES = ("sending", "paused", "sent")
COLUMNS = {
    None: "clicks",
    "head": "machine_head",
    "agent": "machine_agent",
    "early": "machine_early",
    "burst": "machine_burst",
}


@dataclass(frozen=True)
class LinkKey:
    """One link of one issue on one day, as seen through one source."""

    digest_id: int
    kind: str  # story | related | open
    item_id: int
    day: date
    via: str = "redirect"


KEY_COLUMNS = ("digest_id", "kind", "item_id", "day", "via")
READER_KEY_COLUMNS = ("digest_id", "kind", "item_id", "subscriber_id")


def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


@lru_cache(maxsize=4)
def _count_upsert(dialect: str):
    """INSERT a click_counts row or add to its counters: built once per dialect with bound
    parameters, so a click costs one cached statement, not a new one."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = ClickCount.__table__
    names = (*KEY_COLUMNS, *COLUMNS.values())
    statement = insert(table).values({name: bindparam(name) for name in names})
    return statement.on_conflict_do_update(
        index_elements=list(KEY_COLUMNS),
        set_={name: table.c[name] + statement.excluded[name] for name in COLUMNS.values()},
    )


@lru_cache(maxsize=4)
def _reader_upsert(dialect: str):
    """INSERT a reader_clicks row or count one more click; first_at keeps the first moment."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = ReaderClick.__table__
    names = (*READER_KEY_COLUMNS, "first_at", "last_at")
    statement = insert(table).values({**{name: bindparam(name) for name in names}, "clicks": 1})
    return statement.on_conflict_do_update(
        index_elements=list(READER_KEY_COLUMNS),
        set_={"clicks": table.c.clicks + 1, "last_at": statement.excluded["last_at"]},
    )


def add_count(session: Session, key: LinkKey, reason: str | None) -> None:
    """Count one click for people (reason None) or under the machine reason that filtered it."""
    _add(session, key, {COLUMNS[reason]: 1})


def take_back(session: Session, clicks: Iterable[tuple[LinkKey, int | None]]) -> None:
    """Clicks counted for people (and for a reader) that a later burst showed were a machine's."""
    for key, subscriber_id in clicks:
        _add(session, key, {"clicks": -1, "machine_burst": 1})
        if subscriber_id is not None:
            session.execute(
                update(ReaderClick)
                .where(
                    ReaderClick.digest_id == key.digest_id,
                    ReaderClick.kind == key.kind,
                    ReaderClick.item_id == key.item_id,
                    ReaderClick.subscriber_id == subscriber_id,
                )
                .values(clicks=ReaderClick.clicks - 1)
            )


def _add(session: Session, key: LinkKey, deltas: dict[str, int]) -> None:
    """Insert the row or add to its counters: one statement on SQLite and PostgreSQL alike."""
    params = dict.fromkeys(COLUMNS.values(), 0) | deltas
    params.update(
        digest_id=key.digest_id, kind=key.kind, item_id=key.item_id, day=key.day, via=key.via
    )
    session.execute(_count_upsert(_dialect(session)), params)


def add_reader_click(session: Session, key: LinkKey, subscriber_id: int, now: datetime) -> None:
    """Per-reader counting (only when the operator chose it): who clicked which link."""
    params = {
        "digest_id": key.digest_id,
        "kind": key.kind,
        "item_id": key.item_id,
        "subscriber_id": subscriber_id,
        "first_at": now,
        "last_at": now,
    }
    session.execute(_reader_upsert(_dialect(session)), params)


def record(
    db: Database,
    key: LinkKey,
    reason: str | None,
    taken_back: Iterable[tuple[LinkKey, int | None]] = (),
    subscriber_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Store one click (and take back earlier ones a burst unmasked) in one transaction:
    one upsert in aggregate mode, two when the reader is known (per_reader mode)."""
    with db.session() as session:
        if _dialect(session) == "postgresql":  # a count lost in a crash is fine; no fsync wait
            session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        add_count(session, key, reason)
        take_back(session, taken_back)
        if subscriber_id is not None and reason is None and now is not None:
            add_reader_click(session, key, subscriber_id, now)


def reader_of(db: Database, delivery_id: int, digest_id: int) -> tuple[int, datetime | None] | None:
    """(subscriber id, moment handed over) of a per_reader click's message, when that message
    is of this digest; None otherwise (a token moved to another issue's link, a deleted row)."""
    with db.session() as session:
        found = delivery_moment(session, delivery_id)
    if found is None or found[0] != digest_id:
        return None
    return found[2], found[1]


# --- provider events ------------------------------------------------------------------------


def strip_tracking(url: str) -> str:
    """A link without utm_* parameters or fragment, to compare a reported URL with a stored one."""
    parts = urlsplit(url.strip())
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_")
    ]
    host = (parts.hostname or "").lower()
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", urlencode(query), ""))


def item_of_url(session: Session, digest_id: int, url: str) -> tuple[str, int] | None:
    """(kind, id) of the story or related link of this digest that a URL leads to, else None."""
    wanted = strip_tracking(url)
    for item_id, stored in session.execute(
        select(DigestItem.id, DigestItem.url).where(DigestItem.digest_id == digest_id)
    ):
        if strip_tracking(stored) == wanted:
            return "story", item_id
    for rel_id, stored in session.execute(
        select(DigestRelated.id, DigestRelated.url)
        .join(DigestItem, DigestItem.id == DigestRelated.item_id)
        .where(DigestItem.digest_id == digest_id)
    ):
        if strip_tracking(stored) == wanted:
            return "related", rel_id
    return None


@dataclass(frozen=True)
class ProviderRules:
    """What counting a provider's click or open needs from the settings."""

    redirect_base: str  # our own click links start with this
    scanner_seconds: int
    extra_agents: tuple[str, ...]
    zone: tzinfo
    per_reader: bool

    @classmethod
    def of(cls, settings: Settings) -> ProviderRules:
        return cls(
            redirect_base=redirect_base(settings),
            scanner_seconds=settings.click_scanner_seconds,
            extra_agents=settings.click_scanner_agents,
            zone=settings.zone,
            per_reader=settings.click_tracking == "per_reader",
        )


def count_provider_event(
    session: Session,
    rules: ProviderRules,
    *,
    provider: str,
    kind: str,
    url: str,
    user_agent: str,
    at: datetime,
    delivery_id: int | None,
) -> str:
    """Count a provider's click or open against the digest link it was about; says what it did
    (counted, machine reason, ours, untied) so a test or log can tell."""
    if delivery_id is None:
        return "untied"  # not a digest message we can name: a test send, another mailer
    if kind == "click" and url.startswith(rules.redirect_base):
        return "ours"  # our redirect counted it already, on the way through
    found = delivery_moment(session, delivery_id)
    if found is None:
        return "untied"
    digest_id, handed_at, subscriber_id = found
    if kind == "open":
        item = ("open", 0)
    else:
        item = item_of_url(session, digest_id, url) if url else None
        if item is None:
            return "untied"  # a link that is not one of the issue's articles
    seconds = (at - handed_at).total_seconds() if handed_at else None
    reason = None
    if kind == "click":
        reason = machine_reason(
            method="GET",
            user_agent=user_agent,
            seconds_after_delivery=seconds,
            scanner_seconds=rules.scanner_seconds,
            extra_agents=rules.extra_agents,
        )
    key = LinkKey(digest_id, item[0], item[1], at.astimezone(rules.zone).date(), provider)
    add_count(session, key, reason)
    if rules.per_reader and reason is None and kind == "click":
        add_reader_click(session, key, subscriber_id, at)
    return reason or "counted"


def delivery_moment(session: Session, delivery_id: int) -> tuple[int, datetime | None, int] | None:
    """(digest id, when the message was handed over, subscriber id) of a delivery, or None."""
    row = session.execute(
        select(
            Delivery.digest_id,
            func.coalesce(Delivery.handed_at, Delivery.sent_at),
            Delivery.subscriber_id,
        ).where(Delivery.id == delivery_id)
    ).first()
    return (row[0], _aware(row[1]), row[2]) if row else None


def _aware(moment: datetime | None) -> datetime | None:
    """coalesce() loses the column type on SQLite: a naive value there is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


# --- reading ---------------------------------------------------------------------------------


@dataclass
class LinkClicks:
    """One link's totals over every day and source."""

    clicks: int = 0
    machine: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COLUMNS.values(), 0))
    readers: int = 0  # distinct readers, in per_reader mode

    @property
    def filtered(self) -> int:
        return sum(v for k, v in self.machine.items() if k != "clicks")


def digest_clicks(db: Database, digest_id: int) -> dict[tuple[str, int], LinkClicks]:
    """Totals per (kind, item id) of one digest, opens under ("open", 0)."""
    totals: dict[tuple[str, int], LinkClicks] = {}
    sums = [func.sum(ClickCount.__table__.c[name]) for name in COLUMNS.values()]
    with db.session() as session:
        for kind, item_id, *counts in session.execute(
            select(ClickCount.kind, ClickCount.item_id, *sums)
            .where(ClickCount.digest_id == digest_id)
            .group_by(ClickCount.kind, ClickCount.item_id)
        ):
            link = totals.setdefault((kind, item_id), LinkClicks())
            for name, count in zip(COLUMNS.values(), counts, strict=True):
                link.machine[name] = int(count or 0)
            link.clicks = link.machine["clicks"]
        for kind, item_id, readers in session.execute(
            select(ReaderClick.kind, ReaderClick.item_id, func.count())
            .where(ReaderClick.digest_id == digest_id)
            .group_by(ReaderClick.kind, ReaderClick.item_id)
        ):
            totals.setdefault((kind, item_id), LinkClicks()).readers = int(readers)
    return totals


def clicked_articles(session: Session, digest_ids: Iterable[int]) -> dict[int, int]:
    """People's clicks per article on the stories (and related links) of the given digests."""
    ids = list(digest_ids)
    if not ids:
        return {}
    clicks: dict[int, int] = {}
    story = (
        select(DigestItem.article_id, func.sum(ClickCount.clicks))
        .join(
            ClickCount,
            (ClickCount.item_id == DigestItem.id) & (ClickCount.kind == "story"),
        )
        .where(ClickCount.digest_id.in_(ids), DigestItem.article_id.is_not(None))
        .group_by(DigestItem.article_id)
    )
    related = (
        select(DigestRelated.article_id, func.sum(ClickCount.clicks))
        .join(
            ClickCount,
            (ClickCount.item_id == DigestRelated.id) & (ClickCount.kind == "related"),
        )
        .where(ClickCount.digest_id.in_(ids), DigestRelated.article_id.is_not(None))
        .group_by(DigestRelated.article_id)
    )
    for query in (story, related):
        for article_id, count in session.execute(query):
            if count and count > 0:
                clicks[article_id] = clicks.get(article_id, 0) + int(count)
    return clicks


RECENT_ISSUES = 4  # the issues whose clicks say what readers follow


def recent_clicks(session: Session, before_period: str) -> list[tuple[Doc, int]]:
    """The articles readers clicked in the last few sent issues, with their clicks, for
    ranking.follow_up_interest: interest in a story is interest in its follow-ups."""
    ids = session.scalars(
        select(Digest.id)
        .where(Digest.period_key < before_period, Digest.status.in_(SENT_STATUSES))
        .order_by(Digest.period_key.desc())
        .limit(RECENT_ISSUES)
    ).all()
    clicks = clicked_articles(session, ids)
    if not clicks:
        return []
    rows = session.execute(
        select(Article.id, Article.title, Article.summary, Article.section, Article.published_at)
        .where(Article.id.in_(clicks))
        .order_by(Article.id)
    )
    return [
        (
            Doc(id=r[0], title=r[1], summary=r[2] or "", section=r[3], tags=(), published_at=r[4]),
            clicks[r[0]],
        )
        for r in rows
    ]
