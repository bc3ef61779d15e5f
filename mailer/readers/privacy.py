"""A reader's rights over their data: the consent record, access, erasure and IP retention."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.models import (
    ConsentEvent,
    Digest,
    DigestItem,
    DigestRelated,
    NewsletterSubscription,
    OutboxMessage,
    ReaderClick,
    ReaderSunset,
    Subscriber,
)
from mailer.readers import newsletters
from mailer.readers.subscriptions import ReaderOutcome, new_token_nonce
from mailer.readers.suppressions import find_suppression, suppress


def consent_events(session: Session, subscriber_id: int) -> list[ConsentEvent]:
    """A reader's consent record, oldest first: the proof of every signup and withdrawal."""
    query = (
        select(ConsentEvent)
        .where(ConsentEvent.subscriber_id == subscriber_id)
        .order_by(ConsentEvent.at, ConsentEvent.id)
    )
    return list(session.scalars(query))


def export_data(db: Database, subscriber_id: int) -> dict[str, Any]:
    """Everything stored about one reader, as JSON-ready data (the right of access)."""
    with db.session() as session:
        sub = session.get(Subscriber, subscriber_id)
        if sub is None or sub.status == "erased":
            return {}
        events = consent_events(session, subscriber_id)
        mails = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.subscriber_id == subscriber_id)
            .order_by(OutboxMessage.id)
        ).all()
        clicks = _reader_clicks(session, subscriber_id)
        stage = session.get(ReaderSunset, subscriber_id)
        taken = newsletters.taken_by(session, subscriber_id)

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "subscriber": {
            "email": sub.email,
            "first_name": sub.first_name,
            "language": sub.language,
            "status": sub.status,
            "paused": sub.paused,
            "joined_via": sub.origin,
            "created_at": when(sub.created_at),
            "confirmed_at": when(sub.confirmed_at),
            "unsubscribed_at": when(sub.unsubscribed_at),
        },
        "newsletters": taken,
        "consent_events": [
            {
                "kind": e.kind,
                "at": when(e.at),
                "ip": e.ip,
                "user_agent": e.user_agent,
                "form_version": e.form_version,
                "consent_text_hash": e.consent_text_hash,
                "origin": e.origin,
                "captcha_provider": e.captcha_provider,
                "captcha_result": e.captcha_result,
                "detail": e.detail,
            }
            for e in events
        ],
        "messages": [
            {"kind": m.kind, "subject": m.subject, "created_at": when(m.created_at)} for m in mails
        ],
        "clicks": [  # only kept when the operator counts clicks per reader
            {
                "digest": period,
                "link": title,
                "clicks": count,
                "first_at": when(first),
                "last_at": when(last),
            }
            for period, title, count, first, last in clicks
        ],
        "sunset": (  # where sunsetting (MAILER_SUNSET) has this quiet reader, if anywhere
            {"stage": stage.stage, "since": when(stage.at), "mailed_at": when(stage.mailed_at)}
            if stage
            else None
        ),
    }


def _reader_clicks(session: Session, subscriber_id: int) -> list[tuple]:
    """(issue, link title, clicks, first, last) for each digest link this reader followed."""
    story = (ReaderClick.kind == "story") & (DigestItem.id == ReaderClick.item_id)
    related = (ReaderClick.kind == "related") & (DigestRelated.id == ReaderClick.item_id)
    return list(
        session.execute(
            select(
                Digest.period_key,
                func.coalesce(DigestItem.title, DigestRelated.title, ""),
                ReaderClick.clicks,
                ReaderClick.first_at,
                ReaderClick.last_at,
            )
            .join(Digest, Digest.id == ReaderClick.digest_id)
            .outerjoin(DigestItem, story)
            .outerjoin(DigestRelated, related)
            .where(ReaderClick.subscriber_id == subscriber_id, ReaderClick.clicks > 0)
            .order_by(Digest.period_key, ReaderClick.kind, ReaderClick.item_id)
        ).all()
    )


def forget(
    db: Database, subscriber_id: int, now: datetime, ip: str | None = None, by: str = "reader"
) -> ReaderOutcome:
    """Erase a reader: no personal data left, the address only as a hash in suppressions."""
    with db.session() as session:
        sub = session.scalar(
            select(Subscriber).where(Subscriber.id == subscriber_id).with_for_update()
        )
        if sub is None or sub.status == "erased":
            return ReaderOutcome("already", subscriber_id)
        if sub.email:  # `by` (reader or operator) is kept as the suppression's source
            suppress(session, sub.email, "erased", now, source=by, keep_address=False)
        sub.email = None
        sub.email_hash = secrets.token_hex(32)  # the suppression holds the real hash
        sub.first_name = sub.language = None
        sub.status, sub.paused = "erased", False
        sub.token_nonce = new_token_nonce()
        sub.updated_at = sub.unsubscribed_at = now
        session.execute(
            update(ConsentEvent)
            .where(ConsentEvent.subscriber_id == subscriber_id)
            .values(ip=None, user_agent=None, origin=None, detail=None)
        )
        _scrub_outbox(session, OutboxMessage.subscriber_id == subscriber_id)
        session.execute(delete(ReaderClick).where(ReaderClick.subscriber_id == subscriber_id))
        mine = NewsletterSubscription.subscriber_id == subscriber_id
        session.execute(delete(NewsletterSubscription).where(mine))  # which lists they took
        session.execute(delete(ReaderSunset).where(ReaderSunset.subscriber_id == subscriber_id))
        session.add(
            ConsentEvent(subscriber_id=subscriber_id, kind="erase", at=now, detail={"by": by})
        )
        return ReaderOutcome("done", subscriber_id)


def forget_suppressed_address(db: Database, email: str, now: datetime, by: str) -> bool:
    """Erase an address we hold only on the suppression list (and in mail queued to it):
    the hash stays so it is still never mailed. False when nothing with it is stored."""
    with db.session() as session:
        row = find_suppression(session, email)
        if row is None or row.reason == "erased":
            return False
        suppress(session, email, "erased", now, source=by, keep_address=False)
        _scrub_outbox(session, OutboxMessage.recipient == email)
        return True


def _scrub_outbox(session: Session, which) -> None:
    """Cancel the erased reader's waiting mail, then blank every copy (in that order: `which`
    may match on the address being blanked)."""
    session.execute(
        update(OutboxMessage)
        .where(which, OutboxMessage.status == "pending")
        .values(status="cancelled", last_error="erased at the reader's request")
    )
    session.execute(
        update(OutboxMessage)
        .where(which)
        .values(recipient="erased", subject="erased", text="", html=None, headers=None)
    )


def prune_consent_ips(db: Database, settings: Settings, now: datetime) -> int:
    """Drop IP addresses older than MAILER_IP_RETENTION_DAYS; the scheduler calls this daily."""
    cutoff = now - timedelta(days=settings.ip_retention_days)
    with db.session() as session:
        result = session.execute(
            update(ConsentEvent)
            .where(ConsentEvent.at < cutoff, ConsentEvent.ip.is_not(None))
            .values(ip=None)
        )
        return result.rowcount or 0
