"""When jobs are due, and claiming each due moment once in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mailer.content.calendar import period_key
from mailer.core.db import Database
from mailer.core.models import JobRun


def last_fire_time(crontab: str, zone: ZoneInfo, now: datetime, lookback_days: int = 8):
    """The latest moment at or before `now` that the crontab names, as an aware UTC datetime.

    A time that spring-forward skips fires just after the gap; a time that fall-back repeats
    may fire twice, so callers key their slot on the local date or period, never the moment.
    """
    trigger = CronTrigger.from_crontab(crontab, timezone=zone)
    cursor = now.astimezone(UTC) - timedelta(days=lookback_days)
    latest = None
    while True:
        fire = trigger.get_next_fire_time(None, cursor.astimezone(zone))
        if fire is None or fire.astimezone(UTC) > now:
            return latest
        latest = fire.astimezone(UTC)
        # APScheduler 3 can return the same repeated wall time again; always move on in UTC
        cursor = latest + timedelta(minutes=1)


def interval_slot(now: datetime, minutes: int) -> str:
    """A key that changes every `minutes` minutes, for jobs such as ingestion."""
    epoch_minutes = int(now.timestamp() // 60)
    start = epoch_minutes - epoch_minutes % minutes
    return f"{minutes}m:{start}"


def claim_slot(db: Database, job: str, slot: str, now: datetime) -> bool:
    """True for exactly one caller per (job, slot), across processes and restarts."""
    try:
        with db.session() as session:
            session.add(JobRun(job=job, slot=slot, started_at=now))
    except IntegrityError:
        return False
    return True


def slot_claimed(db: Database, job: str, slot: str) -> bool:
    with db.session() as session:
        return (
            session.scalar(select(JobRun.id).where(JobRun.job == job, JobRun.slot == slot))
            is not None
        )


def finish_slot(db: Database, job: str, slot: str, now: datetime, result: str) -> None:
    with db.session() as session:
        run = session.scalar(select(JobRun).where(JobRun.job == job, JobRun.slot == slot))
        if run is not None:
            run.finished_at = now
            run.result = result[:2000]


def send_moment(
    build_at: str, send_at: str, zone: ZoneInfo, period: str, now: datetime, grace: timedelta
) -> tuple[str, datetime | None]:
    """When the scheduler sends `period` once approved, as the tick decides it: ("due", the
    slot) when its send time passed within `grace` (it starts within a minute), ("at", the
    slot) for a send time to come, ("missed", None) when no slot of the schedule is left."""
    trigger = CronTrigger.from_crontab(send_at, timezone=zone)
    latest = last_fire_time(send_at, zone, now)  # the only past slot a tick still acts on
    cursor = now.astimezone(UTC) - grace
    for _ in range(60):  # a weekly schedule finds its slot in two or three steps
        fire = trigger.get_next_fire_time(None, cursor.astimezone(zone))
        if fire is None:
            break
        fire = fire.astimezone(UTC)
        build = last_fire_time(build_at, zone, fire)
        sends = period_key(build, zone) if build else None
        if sends == period and (fire > now or fire == latest):
            return ("due" if fire <= now else "at"), fire
        if sends is not None and sends > period:
            break
        cursor = fire + timedelta(minutes=1)
    return "missed", None
