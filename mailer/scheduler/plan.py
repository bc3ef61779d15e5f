"""When an approved digest will go and to how many readers, as the desk and the CLI tell it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.delivery.ledger import reader_count
from mailer.scheduler.jobs import GRACE
from mailer.scheduler.slots import send_moment


@dataclass(frozen=True)
class SendPlan:
    """'at' a slot to come, 'due' (the slot passed: the next tick starts it), or 'missed'."""

    when: str
    slot: datetime | None
    readers: int


def send_plan(db: Database, settings: Settings, period: str, now: datetime) -> SendPlan:
    """The schedule's slot for this week's digest and today's count of readers it would reach."""
    when, slot = send_moment(settings.build_at, settings.send_at, settings.zone, period, now, GRACE)
    return SendPlan(when, slot, reader_count(db))
