"""Figures for the editors' dashboard and operators' status commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select

from mailer.core.db import Database
from mailer.core.models import (
    SUBSCRIBER_STATUSES,
    ConsentEvent,
    Delivery,
    Digest,
    DigestItem,
    Subscriber,
)


def subscriber_counts(db: Database) -> dict[str, int]:
    """Subscribers per status, every status present (zero when none)."""

    with db.session() as session:
        rows = session.execute(
            select(Subscriber.status, func.count()).group_by(Subscriber.status)
        ).all()
    counts = dict.fromkeys(SUBSCRIBER_STATUSES, 0)
    counts.update(dict(rows))
    return counts


@dataclass(frozen=True)
class WeekFlow:
    week: str  # ISO week, e.g. 2026-W48
    joins: int  # confirmations
    leaves: int  # withdrawals and erasures
    imported: int = 0  # readers an operator imported as confirmed (`mailer subscribers import`)

    @property
    def arrived(self) -> int:
        return self.joins + self.imported


def weekly_flow(db: Database, now: datetime, zone: ZoneInfo, weeks: int = 12) -> list[WeekFlow]:
    """Confirmations and withdrawals per ISO week, oldest first, for the dashboard chart."""
    local_now = now.astimezone(zone)
    start_day = (local_now - timedelta(weeks=weeks - 1)).date()
    start_day -= timedelta(days=start_day.weekday())
    start = datetime(start_day.year, start_day.month, start_day.day, tzinfo=zone)
    with db.session() as session:
        events = session.execute(
            select(ConsentEvent.kind, ConsentEvent.at, ConsentEvent.detail).where(
                ConsentEvent.at >= start,
                ConsentEvent.kind.in_(("confirm", "withdraw", "erase", "import")),
            )
        ).all()
    buckets: dict[str, list[int]] = {}
    for offset in range(weeks):
        year, week, _ = (start + timedelta(weeks=offset)).isocalendar()
        buckets[f"{year}-W{week:02d}"] = [0, 0, 0]
    for kind, at, detail in events:
        if kind == "import" and not (detail or {}).get("confirmed_by_operator"):
            continue  # imported as pending: counted when they confirm
        year, week, _ = at.astimezone(zone).isocalendar()
        bucket = buckets.get(f"{year}-W{week:02d}")
        if bucket is not None:
            bucket[{"confirm": 0, "import": 2}.get(kind, 1)] += 1
    return [WeekFlow(week, j, left, imported) for week, (j, left, imported) in buckets.items()]


def next_fire(crontab: str, zone: ZoneInfo, now: datetime) -> datetime | None:
    trigger = CronTrigger.from_crontab(crontab, timezone=zone)
    return trigger.get_next_fire_time(None, now.astimezone(zone))


@dataclass(frozen=True)
class DigestSummary:
    id: int
    period_key: str
    status: str
    subject: str
    stories: int
    deliveries: dict[str, int]
    kind: str = "weekly"  # or special: an edition an editor composed


def recent_digests(
    db: Database, limit: int = 8, newsletter_id: int | None = None
) -> list[DigestSummary]:
    """The newest digests (special editions among them; of one newsletter, or of all) with
    their story count and states."""
    newest = (Digest.created_at.desc(), Digest.period_key.desc())
    with db.session() as session:
        query = select(Digest).order_by(*newest)
        if newsletter_id is not None:
            query = query.where(Digest.newsletter_id == newsletter_id)
        digests = session.scalars(query.limit(limit))
        digests = list(digests)
        ids = [d.id for d in digests]
        stories = dict(
            session.execute(
                select(DigestItem.digest_id, func.count())
                .where(DigestItem.digest_id.in_(ids))
                .group_by(DigestItem.digest_id)
            ).all()
        )
        states: dict[int, dict[str, int]] = {i: {} for i in ids}
        for digest_id, status, count in session.execute(
            select(Delivery.digest_id, Delivery.status, func.count())
            .where(Delivery.digest_id.in_(ids))
            .group_by(Delivery.digest_id, Delivery.status)
        ):
            states[digest_id][status] = count
    return [
        DigestSummary(
            d.id, d.period_key, d.status, d.subject, stories.get(d.id, 0), states[d.id], d.kind
        )
        for d in digests
    ]


def axis_top(largest: int) -> int:
    """A round number at or above `largest` for a chart's axis: 1, 2 or 5 times a power of ten."""
    top = 1
    while True:
        for step in (1, 2, 5):
            if top * step >= largest:
                return top * step
        top *= 10
