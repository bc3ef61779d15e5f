"""The suppression list: addresses never to mail again, kept as a hash once erased."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from mailer.core.models import Subscriber, Suppression

# "failed": refused during a send before hard_bounce below (older rows keep it)
REASONS = ("bounce", "complaint", "unsubscribe", "manual", "erased", "failed")
# The reader states a hard bounce leaves as they are: erasure, and a complaint (the stronger word)
BOUNCE_KEEPS = ("erased", "complained")


def address_hash(email: str) -> str:
    """The stable key for an address: lowercase, trimmed, SHA-256."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def find_suppression(session: Session, email: str) -> Suppression | None:
    """By hash, so an erased address (kept only as its hash) is found too."""
    return session.scalar(select(Suppression).where(Suppression.email_hash == address_hash(email)))


_SUPPRESSED = select(Suppression.id).where(Suppression.email_hash == bindparam("digest"))


def is_suppressed(session: Session | Connection, email: str) -> bool:
    """One prebuilt statement: signup asks this for every address."""
    return session.scalar(_SUPPRESSED, {"digest": address_hash(email)}) is not None


def suppress(
    session: Session,
    email: str,
    reason: str,
    now: datetime,
    *,
    source: str | None = None,
    keep_address: bool = True,
) -> Suppression:
    """Add (or update) a suppression; `keep_address=False` stores the hash alone (erasure)."""
    if reason not in REASONS:
        raise ValueError(f"unknown suppression reason {reason!r}")
    row = find_suppression(session, email)
    if row is None:
        row = Suppression(
            email_hash=address_hash(email),
            email=email.strip().lower() if keep_address else None,
            reason=reason,
            source=source,
            created_at=now,
        )
        session.add(row)
    else:
        if not keep_address:
            row.email = None
        if reason == "erased" or row.reason in ("unsubscribe", "manual"):
            row.reason = reason
            row.source = source or row.source  # who asked for the reason it now gives
    session.flush()
    return row


def unsuppress(session: Session, email: str) -> bool:
    """Remove a suppression, except an erasure, which only the hash remembers on purpose."""
    row = find_suppression(session, email)
    if row is None or row.reason == "erased":
        return False
    session.delete(row)
    session.flush()
    return True


def hard_bounce(
    session: Session,
    email: str,
    now: datetime,
    *,
    source: str,
    subscriber: Subscriber | None = None,
) -> None:
    """One rule for an address that cannot take mail, whether its server refused it during the
    send (a 5xx) or a bounce report or a provider's event says so later: the address is
    suppressed as a bounce and its reader marked bounced. `subscriber`: the reader's row when
    the caller holds it locked already."""
    suppress(session, email, "bounce", now, source=source)
    if subscriber is None:
        subscriber = session.scalar(
            select(Subscriber).where(Subscriber.email_hash == address_hash(email)).with_for_update()
        )
    if subscriber is not None and subscriber.status not in BOUNCE_KEEPS:
        subscriber.status = "bounced"
        subscriber.updated_at = now
