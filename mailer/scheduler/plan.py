"""When an approved digest will go and to how many readers, as the desk and the CLI tell it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailer.content.calendar import special_day
from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.delivery.ledger import digest_reader_count, reader_count
from mailer.editions.digests import find_digest
from mailer.scheduler.jobs import GRACE
from mailer.scheduler.slots import send_moment


@dataclass(frozen=True)
class SendPlan:
    """'at' a slot to come, 'due' (the slot passed: the next tick starts it), 'missed', or
    'manual' (a special edition with no time set goes when an editor presses Send now)."""

    when: str
    slot: datetime | None
    readers: int


def send_plan(
    db: Database, settings: Settings, period: str, now: datetime, digest_id: int | None = None
) -> SendPlan:
    """The schedule's slot for this week's digest and today's count of readers it would reach
    (within the segment it targets, when the digest is named); a special edition's slot is the
    time its editor chose."""
    readers = reader_count(db) if digest_id is None else digest_reader_count(db, digest_id)
    if special_day(period) is not None:
        chosen = find_digest(db, period).scheduled_for
        when = "manual" if chosen is None else "at" if chosen > now else "due"
        if chosen is not None and now - chosen > GRACE:
            when, chosen = "missed", None
        return SendPlan(when, chosen, readers)
    when, slot = send_moment(settings.build_at, settings.send_at, settings.zone, period, now, GRACE)
    return SendPlan(when, slot, readers)
