"""Turn verified provider events into suppressions and subscriber states, each event once."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr

from sqlalchemy import delete, func, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mailer.core.db import Database
from mailer.core.models import ConsentEvent, Delivery, Subscriber
from mailer.core.models import WebhookEvent as WebhookEventRow
from mailer.delivery.webhooks.base import BadSignature, WebhookEvent
from mailer.editions.clicks.provider import ProviderRules, count_provider_event
from mailer.readers.links import message_id_forms
from mailer.readers.suppressions import address_hash, suppress

SOFT_BOUNCE_LIMIT = 3
SUPPRESSION_REASON = {
    "bounce_hard": "bounce",
    "complaint": "complaint",
    "unsubscribe": "unsubscribe",
}
# The state each kind moves a subscriber to, and the states it must not overwrite.
NEW_STATUS = {"bounce_hard": "bounced", "complaint": "complained", "unsubscribe": "unsubscribed"}
KEEPS = {
    "bounced": ("erased", "complained"),
    "complained": ("erased",),
    "unsubscribed": ("erased", "bounced", "complained", "unsubscribed"),
}


@dataclass
class ApplyResult:
    """What a batch did: events newly applied, repeats ignored, addresses suppressed, and
    events too old to tell from a replay."""

    applied: int = 0
    duplicates: int = 0
    suppressed: int = 0
    stale: int = 0


def _key(event_id: str) -> str:
    """Event ids fit the column; an overlong one is replaced by its hash, still unique."""
    return event_id if len(event_id) <= 200 else hashlib.sha256(event_id.encode()).hexdigest()


def _claim(
    session: Session,
    provider: str,
    event_id: str,
    kind: str,
    digest: str | None,
    now: datetime,
    payload: dict | None,
    delivery_id: int | None = None,
) -> bool:
    """Insert the (provider, event_id) row; False when it was there already (a repeat)."""
    table = WebhookEventRow.__table__
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(table)
        .values(
            provider=provider,
            event_id=_key(event_id),
            kind=kind,
            recipient_hash=digest,
            received_at=now,
            payload=payload,
            delivery_id=delivery_id,
        )
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(table.c.id)
    )
    return session.execute(statement).first() is not None


def _delivery_of(session: Session, event: WebhookEvent, digest: str | None) -> int | None:
    """The digest message an event is about: this reader's delivery with the provider's id for
    it (batch ids are shared, so the reader narrows it) or our own Message-ID; else None."""
    if digest is None or not (event.provider_id or event.message_id):
        return None
    same = []
    if event.provider_id:
        same.append(Delivery.provider_id == event.provider_id)
    if event.message_id:
        same.append(Delivery.message_id.in_(message_id_forms(event.message_id)))
    return session.scalar(
        select(Delivery.id)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Subscriber.email_hash == digest, or_(*same))
        .order_by(Delivery.id.desc())
        .limit(1)
    )


def _move(
    session: Session, subscriber: Subscriber, status: str, event: WebhookEvent, now: datetime
):
    """Set the subscriber's state unless a stronger one (or erasure) is already there."""
    if subscriber.status in KEEPS[status]:
        return
    was = subscriber.status
    subscriber.status = status
    subscriber.updated_at = now
    if status in ("unsubscribed", "complained") and was in ("pending", "confirmed"):
        subscriber.unsubscribed_at = now
        session.add(
            ConsentEvent(
                subscriber_id=subscriber.id,
                kind="withdraw",
                at=now,
                detail={"via": "webhook", "provider": event.provider, "event": event.kind},
            )
        )


def _soft_bounces(session: Session, subscriber: Subscriber | None, digest: str) -> int:
    """Count this soft bounce: on the subscriber, or from stored events for other addresses."""
    if subscriber is not None:
        subscriber.soft_bounces = (subscriber.soft_bounces or 0) + 1
        return subscriber.soft_bounces
    return session.scalar(
        select(func.count(WebhookEventRow.id)).where(
            WebhookEventRow.recipient_hash == digest, WebhookEventRow.kind == "bounce_soft"
        )
    )


def _apply_one(
    session: Session,
    event: WebhookEvent,
    address: str,
    digest: str,
    now: datetime,
    soft_bounce_limit: int,
) -> bool:
    """Apply one new event; True when it put the address on the suppression list."""
    # Locked (PostgreSQL) so two events for one reader cannot lose a count or a state change.
    subscriber = session.scalar(
        select(Subscriber).where(Subscriber.email_hash == digest).with_for_update()
    )
    kind = event.kind
    if kind == "bounce_soft" and _soft_bounces(session, subscriber, digest) >= soft_bounce_limit:
        kind = "bounce_hard"
    elif kind == "delivered" and subscriber is not None:
        subscriber.soft_bounces = 0
    if kind not in SUPPRESSION_REASON:
        return False
    suppress(session, address, SUPPRESSION_REASON[kind], now, source=event.provider)
    if subscriber is not None:
        _move(session, subscriber, NEW_STATUS[kind], event, now)
    return True


def _by_recipient(events: Iterable[WebhookEvent]) -> list[tuple[str, str | None, WebhookEvent]]:
    """(address, hash, event) sorted by hash, keeping each reader's order: concurrent batches
    then lock readers in the same order and cannot deadlock each other."""
    rows = []
    for event in events:
        address = parseaddr(event.recipient or "")[1] or event.recipient or ""
        rows.append((address, address_hash(address) if address else None, event))
    return sorted(rows, key=lambda row: row[1] or "")


def apply_events(
    db: Database,
    events: Iterable[WebhookEvent],
    now: datetime,
    *,
    nonce: tuple[str, str] | None = None,
    soft_bounce_limit: int = SOFT_BOUNCE_LIMIT,
    clicks: ProviderRules | None = None,
    oldest: datetime | None = None,
) -> ApplyResult:
    """Apply a verified batch in one transaction; a repeated event id changes nothing.

    `nonce` is (provider, one-time token): claimed in the same transaction, so a replayed
    request is refused whole and a failed one can be retried by the provider. Clicks and
    opens are counted against the digest link they were about when `clicks` is given.
    Events that happened before `oldest` are skipped: their ids may already be pruned, so a
    replay of them could not be told from a first delivery (Postmark signs nothing with a
    time, so this is its only replay bound).
    """
    result = ApplyResult()
    with db.session() as session:
        if nonce is not None and not _claim(
            session, nonce[0], f"nonce:{nonce[1]}", "nonce", None, now, None
        ):
            raise BadSignature("This signed request was seen before; refusing a replay.")
        for address, digest, event in _by_recipient(events):
            if oldest is not None and event.at < oldest:
                result.stale += 1
                continue
            payload = {
                "reason": event.reason[:200],
                "provider_id": event.provider_id,
                "at": event.at.isoformat(),
            }
            delivery_id = _delivery_of(session, event, digest)
            if not _claim(
                session,
                event.provider,
                event.event_id,
                event.kind,
                digest,
                now,
                payload,
                delivery_id,
            ):
                result.duplicates += 1
                continue
            result.applied += 1
            if event.kind in ("click", "open") and clicks is not None:
                count_provider_event(
                    session,
                    clicks,
                    provider=event.provider,
                    kind=event.kind,
                    url=event.url,
                    user_agent=event.user_agent,
                    at=event.at,
                    delivery_id=delivery_id,
                )
                continue
            if address and _apply_one(session, event, address, digest, now, soft_bounce_limit):
                result.suppressed += 1
    return result


def prune_events(db: Database, now: datetime, keep_days: int) -> int:
    """Delete provider events older than `keep_days`: far past every replay window (signed
    timestamps are checked on arrival), so they no longer prove anything; returns how many."""
    cutoff = now - timedelta(days=keep_days)
    with db.session() as session:
        done = session.execute(delete(WebhookEventRow).where(WebhookEventRow.received_at < cutoff))
        return done.rowcount or 0
