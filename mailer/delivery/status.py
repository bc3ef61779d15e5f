"""How a digest's send stands: counts by state, rate, time left and provider feedback."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from mailer.core.db import Database
from mailer.core.errors import Conflict
from mailer.core.models import Delivery, Digest, WebhookEvent
from mailer.delivery import ledger

RATE_WINDOW_MINUTES = 5.0


@dataclass(frozen=True)
class DigestStatus:
    digest_id: int
    period_key: str
    status: str
    reason: str | None
    counts: dict[str, int]
    rate_per_minute: float
    eta_seconds: float | None
    feedback: dict[str, int]  # provider events about its messages, by kind


FEEDBACK_WORDS = {
    "delivered": "delivered",
    "bounce_hard": "hard bounce",
    "bounce_soft": "soft bounce",
    "deferred": "deferred",
    "complaint": "complaint",
    "rejected": "refused at hand-off",
    "unsubscribe": "unsubscribe",
    "other": "other",
}


def awaiting_feedback(transport: str) -> str:
    """What to say while no feedback has come: where it comes from with this transport (DSN)."""
    scheme = transport.partition("://")[0].lower()
    if scheme in ("smtp", "smtps"):
        return (
            "none yet (with SMTP it arrives by mail: bounce and complaint reports to "
            "MAILER_BOUNCE_ADDRESS, piped to `mailer inbound`)"
        )
    if scheme in ("file", "console"):
        return f"none (the {scheme} transport delivers nothing, so nothing reports back)"
    return f"none yet (it arrives through {scheme}'s webhooks)"


def feedback_counts(db: Database, digest_id: int) -> dict[str, int]:
    """What providers reported about this digest's messages, by event kind."""

    with db.session() as session:
        rows = session.execute(
            select(WebhookEvent.kind, func.count())
            .join(Delivery, Delivery.id == WebhookEvent.delivery_id)
            .where(Delivery.digest_id == digest_id)
            .group_by(WebhookEvent.kind)
        ).all()
    return {str(kind): int(count) for kind, count in rows}


def rate_window_minutes(started: datetime | None, now: datetime) -> float:
    """The last five minutes, or less when the send began more recently (else the rate reads low
    and the time left high for the whole first five minutes)."""
    if started is None:
        return RATE_WINDOW_MINUTES
    if started.tzinfo is None:  # SQLite hands back naive UTC
        started = started.replace(tzinfo=now.tzinfo)
    elapsed = (now - started).total_seconds() / 60.0
    return min(RATE_WINDOW_MINUTES, max(elapsed, 0.25))


def digest_status(db: Database, digest_id: int, now: datetime) -> DigestStatus:
    """Counts per state, the rate over the last minutes, and when it should be done."""

    window_start = now - timedelta(minutes=RATE_WINDOW_MINUTES)
    with db.session() as session:
        digest = session.get(Digest, digest_id)
        if digest is None:
            raise Conflict(f"no digest {digest_id}.")
        recent = (
            session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(
                    Delivery.digest_id == digest_id,
                    Delivery.sent_at >= window_start,
                )
            )
            or 0
        )
    counts = ledger.counts(db, Delivery, [Delivery.digest_id == digest_id])
    rate = recent / rate_window_minutes(digest.send_started_at, now)
    remaining = counts.get("pending", 0) + counts.get("sending", 0)
    eta = remaining / (rate / 60.0) if rate and remaining else (0.0 if not remaining else None)
    return DigestStatus(
        digest.id,
        digest.period_key,
        digest.status,
        digest.status_reason,
        counts,
        rate,
        eta,
        feedback_counts(db, digest_id),
    )
