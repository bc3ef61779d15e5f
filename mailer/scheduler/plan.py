"""When an approved digest will go and to how many readers, as the desk and the CLI tell it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mailer.content.calendar import period_bounds, special_day
from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.models import Newsletter
from mailer.delivery.ledger import digest_reader_count, reader_count
from mailer.editions.digests import find_digest
from mailer.scheduler.jobs import GRACE
from mailer.scheduler.newsletters import DEFAULT_HOUR, crontab
from mailer.scheduler.slots import send_moment


@dataclass(frozen=True)
class SendPlan:
    """'at' a slot to come, 'due' (the slot passed: the next tick starts it), 'missed', or
    'manual' (a special edition with no time set goes when an editor presses Send now)."""

    when: str
    slot: datetime | None
    readers: int


def send_plan(
    db: Database,
    settings: Settings,
    period: str,
    now: datetime,
    digest_id: int | None = None,
    newsletter: Newsletter | None = None,
) -> SendPlan:
    """The schedule's slot for this period's issue of the newsletter (None: the default) and
    today's count of readers it would reach (within the segment it targets, when the digest is
    named); a special edition's slot is the time its editor chose."""
    nid = newsletter.id if newsletter is not None else None
    readers = (
        reader_count(db, None, nid) if digest_id is None else digest_reader_count(db, digest_id)
    )
    if special_day(period) is not None:
        chosen = find_digest(db, period).scheduled_for
        when = "manual" if chosen is None else "at" if chosen > now else "due"
        if chosen is not None and now - chosen > GRACE:
            when, chosen = "missed", None
        return SendPlan(when, chosen, readers)
    if newsletter is None or newsletter.is_default:
        zone = settings.zone
        when, slot = send_moment(settings.build_at, settings.send_at, zone, period, now, GRACE)
        return SendPlan(when, slot, readers)
    when, slot = _own_moment(newsletter, settings, period, now)
    return SendPlan(when, slot, readers)


def _own_moment(
    newsletter: Newsletter, settings: Settings, period: str, now: datetime
) -> tuple[str, datetime | None]:
    """A scheduled newsletter's issue goes at its own day and hour (scheduler.newsletters)."""
    if crontab(newsletter) is None:
        return "missed", None  # manual: only Send now
    hour = DEFAULT_HOUR if newsletter.send_hour is None else newsletter.send_hour
    start, _end = period_bounds(period, settings.zone)
    local = start.astimezone(settings.zone)
    if newsletter.cadence == "weekly":
        local += timedelta(days=newsletter.send_day or 0)
    slot = local.replace(hour=hour).astimezone(UTC)
    grace = timedelta(days=1) if newsletter.cadence == "daily" else GRACE
    if slot > now:
        return "at", slot
    return ("due", slot) if now - slot <= grace else ("missed", slot)
