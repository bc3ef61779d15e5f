"""Send-rate token buckets: one per process by default, one in the database for many workers.

Both give at most `rate` messages a second with a burst of one second's worth, and both let a
provider's 429 pause every sender until its Retry-After has passed.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.models import Lease

SHARED_NAME = "rate:send"
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
MAX_SLEEP = 1.0


# tokens after refilling at `rate` (capped at `cap`); `count` taken if there are enough, or a
# full bucket for a batch bigger than the burst; nothing taken while a 429 pause lasts
TAKE_SQL = text(
    """
    WITH cur AS (
        SELECT extract(epoch FROM clock_timestamp())::float8 AS t,
               coalesce((value->>'tokens')::float8, :cap) AS tokens,
               coalesce((value->>'updated')::float8, 0) AS updated,
               coalesce((value->>'paused_until')::float8, 0) AS paused_until
        FROM leases WHERE name = :name FOR UPDATE
    ), calc AS (
        SELECT t, paused_until,
               least(:cap, tokens + greatest(t - updated, 0) * :rate) AS avail
        FROM cur
    )
    UPDATE leases SET value = json_build_object(
        'tokens', CASE WHEN calc.paused_until <= calc.t
                        AND (calc.avail >= :count OR calc.avail >= :cap)
                       THEN calc.avail - :count ELSE calc.avail END,
        'updated', calc.t,
        'paused_until', calc.paused_until)
    FROM calc WHERE leases.name = :name
    RETURNING calc.t, calc.avail, calc.paused_until
    """
)


class Bucket(Protocol):
    def take(self, count: int = 1) -> None: ...

    def pause(self, seconds: float) -> None: ...


def refill(tokens: float, elapsed: float, rate: float, capacity: float, count: int):
    """One bucket step: (tokens left, seconds to wait); a wait of 0 means the take succeeded."""
    tokens = min(capacity, tokens + max(elapsed, 0.0) * rate)
    if tokens >= count or tokens >= capacity:  # a batch bigger than the burst drains it whole
        return tokens - count, 0.0
    return tokens, (min(count, capacity) - tokens) / rate


class LocalBucket:
    """The bucket of one process: shared by that process's sending threads."""

    def __init__(self, rate: float, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = max(burst or rate, 1.0)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.paused_until = 0.0
        self.lock = threading.Lock()

    def pause(self, seconds: float) -> None:
        """A provider said 429: every thread waits."""
        with self.lock:
            self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    def take(self, count: int = 1) -> None:
        while True:
            with self.lock:
                now = time.monotonic()
                wait = self.paused_until - now
                if wait <= 0:
                    self.tokens, wait = refill(
                        self.tokens, now - self.updated, self.rate, self.capacity, count
                    )
                    self.updated = now
                    if wait == 0:
                        return
            time.sleep(min(wait, MAX_SLEEP))


class SharedBucket:
    """The bucket of every worker on every host: one row, locked for each take.

    The row lives in `leases` (its `value` holds tokens and the pause) and time is the
    database's clock, so hosts whose clocks disagree still share one rate.
    """

    def __init__(self, db: Database, rate: float, burst: float | None = None) -> None:
        self.db = db
        self.rate = rate
        self.capacity = max(burst or rate, 1.0)
        self.autocommit = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._ensure_row()

    def _ensure_row(self) -> None:
        chooser = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        fresh = {"tokens": self.capacity, "updated": None, "paused_until": 0.0}
        stmt = chooser(Lease).values(
            name=SHARED_NAME, holder="send rate", expires_at=FAR_FUTURE, value=fresh
        )
        with self.db.session() as session:
            session.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))

    def pause(self, seconds: float) -> None:
        """A provider said 429: every worker on every host waits."""
        with self.db.session() as session:
            row = self._locked(session)
            now = db_time(self.db, session)
            state = dict(row.value or {})
            state["paused_until"] = max(float(state.get("paused_until") or 0.0), now + seconds)
            row.value = state

    def take(self, count: int = 1) -> None:
        step = self._step_postgresql if self.db.dialect == "postgresql" else self._step
        while (wait := step(count)) > 0:
            time.sleep(min(wait, MAX_SLEEP))

    def _step_postgresql(self, count: int) -> float:
        """One take as one statement in autocommit: a single round trip under load."""
        with self.autocommit.connect() as conn:
            row = conn.execute(
                TAKE_SQL,
                {"name": SHARED_NAME, "rate": self.rate, "cap": self.capacity, "count": count},
            ).one_or_none()
        if row is None:  # someone deleted the row: put it back and try again
            self._ensure_row()
            return 0.01
        now, tokens, paused_until = row
        if paused_until > now:
            return paused_until - now
        if tokens >= count or tokens >= self.capacity:
            return 0.0
        return (min(count, self.capacity) - tokens) / self.rate

    def _step(self, count: int) -> float:
        """The same arithmetic in Python, under the row lock (SQLite has one writer anyway)."""
        with self.db.session() as session:
            row = self._locked(session)
            now = db_time(self.db, session)
            state = dict(row.value or {})
            wait = float(state.get("paused_until") or 0.0) - now
            if wait <= 0:
                updated = state.get("updated")
                elapsed = self.capacity / self.rate if updated is None else now - updated
                tokens, wait = refill(
                    float(state.get("tokens", self.capacity)),
                    elapsed,
                    self.rate,
                    self.capacity,
                    count,
                )
                state.update(tokens=tokens, updated=now)
                row.value = state
        return wait

    def _locked(self, session) -> Lease:
        row = session.scalar(
            select(Lease)
            .where(Lease.name == SHARED_NAME)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if row is None:  # someone deleted it: put it back and carry on
            row = Lease(name=SHARED_NAME, holder="send rate", expires_at=FAR_FUTURE, value={})
            session.add(row)
        return row


def bucket_for(db: Database, settings: Settings) -> Bucket:
    """Workers on a queue share one bucket in the database; one process keeps its own."""
    if settings.queue == "procrastinate":
        return SharedBucket(db, settings.send_rate)
    return LocalBucket(settings.send_rate)


def db_time(db: Database, session) -> float:
    """Seconds since the epoch by the database's clock (one SQLite file has one host's)."""
    if db.dialect == "postgresql":
        return float(session.scalar(select(func.extract("epoch", func.clock_timestamp()))))
    return time.time()


def pause_remaining(db: Database) -> timedelta | None:
    """How long the shared bucket stays paused after a 429, for status pages."""
    with db.session() as session:
        value = session.scalar(select(Lease.value).where(Lease.name == SHARED_NAME))
        left = float((value or {}).get("paused_until") or 0.0) - db_time(db, session)
    return timedelta(seconds=left) if left > 0 else None
