"""Guardrails while sending: pause a digest whose recent complaint or hard-bounce rate passes the
limits mailbox providers publish, before the rest of the list pays for it in reputation.

The signal is read from `webhook_events` rows tied to a delivery: complaints and hard bounces
as provider webhooks and `mailer inbound` reports bring them, and `rejected` rows the engine
writes for a permanent refusal at hand-off (a synchronous 5xx). The rate is taken over the last
`MAILER_GUARDRAIL_WINDOW` settled deliveries of the send (sent, failed or unknown, by hand-off
time; a message marked handed over but not yet tried does not count) and judged only once
`MAILER_GUARDRAIL_MIN_SAMPLE` of them are settled, so one complaint among three messages does
not stop a send. Deliveries handed over before an editor's `resume` do not count again:
resuming is the editor's judgement that those figures are understood. docs/sending.md explains
the defaults.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, distinct, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.errors import Conflict
from mailer.core.models import AuditEntry, Delivery, Digest, WebhookEvent
from mailer.editions import lifecycle

log = logging.getLogger(__name__)

ACTOR = "guardrail"  # the audit log's actor for a guardrail pause
REASON_PREFIX = "guardrail:"
REJECTED = "rejected"  # webhook_events kind: refused for good when it was handed over
HARD_BOUNCES = ("bounce_hard", REJECTED)
# Deliveries whose attempt is over: the window counts only these. A hand-off group is marked
# handed over before its messages are tried, so counting marks would count untried messages.
SETTLED = ("sent", "failed", "unknown")
# Transitions after which a send goes on by someone's decision: the window starts again there.
RESTARTS = ("resume", "reopen")


@dataclass(frozen=True)
class Limits:
    """The guardrail settings of one run; a window of 0 turns the guardrails off."""

    window: int
    min_sample: int
    complaint_percent: float
    bounce_percent: float

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            settings.guardrail_window,
            settings.guardrail_min_sample,
            settings.guardrail_complaint_percent,
            settings.guardrail_bounce_percent,
        )


@dataclass(frozen=True)
class Reading:
    """Complaints and hard bounces among the last deliveries of one send."""

    sample: int
    complaints: int
    hard_bounces: int

    def percent(self, count: int) -> float:
        return 100.0 * count / self.sample if self.sample else 0.0


def verdict(reading: Reading, limits: Limits) -> str | None:
    """The sentence a pause carries when a rate passes its limit; None while all is well."""
    if limits.window <= 0 or reading.sample < max(limits.min_sample, 1):
        return None
    for word, count, limit in (
        ("complaint", reading.complaints, limits.complaint_percent),
        ("hard-bounce", reading.hard_bounces, limits.bounce_percent),
    ):
        rate = reading.percent(count)
        if rate > limit:
            return (
                f"{REASON_PREFIX} {word} rate {rate:.2f}% ({count} of the last {reading.sample} "
                f"deliveries) is above {limit:g}%; check the list and the feedback, then resume "
                "by hand"
            )
    return None


def read_window(db: Database, digest_id: int, window: int) -> Reading:
    """Count the last `window` settled deliveries (by hand-off time) since the send last
    (re)started by someone's decision, and the complaints and hard bounces about them."""
    with db.session() as session:
        key = session.scalar(select(Digest.period_key).where(Digest.id == digest_id))
        since = session.scalar(
            select(func.max(AuditEntry.at)).where(
                AuditEntry.target == f"digest:{key}", AuditEntry.action.in_(RESTARTS)
            )
        )
        handed = [
            Delivery.digest_id == digest_id,
            Delivery.status.in_(SETTLED),
            Delivery.handed_at.is_not(None),
        ]
        if since is not None:
            handed.append(Delivery.handed_at > since)
        recent = (
            select(Delivery.id)
            .where(*handed)
            .order_by(Delivery.handed_at.desc(), Delivery.id.desc())
            .limit(window)
            .subquery()
        )
        event = WebhookEvent
        about = and_(event.delivery_id == recent.c.id, event.kind.in_(("complaint", *HARD_BOUNCES)))
        sample, complaints, hard = session.execute(
            select(
                func.count(distinct(recent.c.id)),
                func.count(distinct(case((event.kind == "complaint", event.delivery_id)))),
                func.count(distinct(case((event.kind.in_(HARD_BOUNCES), event.delivery_id)))),
            ).select_from(recent.outerjoin(event, about))
        ).one()
    return Reading(sample or 0, complaints or 0, hard or 0)


def _sending_digests(db: Database, delivery_ids: Iterable[int]) -> list[int]:
    ids = sorted(set(delivery_ids))
    if not ids:
        return []
    with db.session() as session:
        return list(
            session.scalars(
                select(Delivery.digest_id)
                .join(Digest, Digest.id == Delivery.digest_id)
                .where(Delivery.id.in_(ids), Digest.status == "sending")
                .distinct()
            )
        )


def watch(
    db: Database, settings: Settings, delivery_ids: Iterable[int], now: datetime
) -> list[str]:
    """After feedback about these deliveries: pause each sending digest among them whose
    rates now pass a limit. Returns the reasons of the pauses made."""
    limits = Limits.of(settings)
    if limits.window <= 0:
        return []
    reasons = []
    for digest_id in _sending_digests(db, delivery_ids):
        reason = verdict(read_window(db, digest_id, limits.window), limits)
        if reason is None:
            continue
        # a Conflict: an editor, the engine or another feedback batch paused it first
        with contextlib.suppress(Conflict):
            digest = lifecycle.pause(db, digest_id, ACTOR, now, reason)
            log.warning("paused the digest %s: %s", digest.period_key, reason)
            reasons.append(reason)
    return reasons


def record_rejections(db: Database, provider: str, delivery_ids: Iterable[int], now: datetime):
    """Keep a permanent refusal at hand-off as feedback about its delivery, once per delivery,
    so the guardrails and `digest status` count it beside the reports that come later."""
    rows = [
        {
            "provider": provider[:24],
            "event_id": f"{REJECTED}:{delivery_id}",
            "kind": REJECTED,
            "received_at": now,
            "delivery_id": delivery_id,
        }
        for delivery_id in sorted(set(delivery_ids))
    ]
    if not rows:
        return
    insert = pg_insert if db.dialect == "postgresql" else sqlite_insert
    statement = (
        insert(WebhookEvent.__table__)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
    )
    with db.session() as session:
        session.execute(statement)
