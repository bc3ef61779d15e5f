"""Counting clicks on digest links: one upsert per click, per digest link, day and source."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mailer.core.db import Database
from mailer.core.models import ClickCount, Delivery, ReaderClick

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
