"""Download and erasure go through a link mailed on request, so a forwarded issue opens neither."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.models import OutboxMessage, Subscriber
from mailer.readers import links
from mailer.readers.subscriptions import ReaderOutcome, _may_mail, _outbox_row
from mailer.readers.suppressions import is_suppressed
from mailer.readers.tokens import TokenExpired, TokenInvalid, read_token

DATA_LINK_LIFETIME = timedelta(hours=1)


def send_data_link(
    db: Database, settings: Settings, subscriber_id: int, now: datetime
) -> ReaderOutcome:
    """Mail the stored address a one-hour data link, under the confirmation mail's limits."""
    with db.session() as session:
        sub = session.scalar(
            select(Subscriber).where(Subscriber.id == subscriber_id).with_for_update()
        )
        if sub is None or sub.status == "erased" or not sub.email:
            return ReaderOutcome("bad-link")
        if is_suppressed(session, sub.email):
            return ReaderOutcome("suppressed", sub.id)
        if not _may_mail(session, sub.id, now, kind="data"):
            return ReaderOutcome("limited", sub.id)
        mail = data_link_values(settings, sub.id, sub.email, sub.token_nonce, now)
        session.connection().execute(insert(OutboxMessage.__table__), mail)
        return ReaderOutcome("queued", sub.id)


def data_link_values(
    settings: Settings, subscriber_id: int, email: str, nonce: str, now: datetime
) -> dict[str, Any]:
    context = {
        "list_name": settings.list_name,
        "site_name": settings.site_name,
        "data_url": links.data_url(settings, subscriber_id, nonce, now),
        "minutes": int(DATA_LINK_LIFETIME.total_seconds() // 60),
        "base_url": settings.base_url,
    }
    return _outbox_row(settings, "data", context, subscriber_id, email, now)


def data_link(
    db: Database, settings: Settings, token: str, now: datetime
) -> tuple[str, Subscriber | None]:
    """("ok", reader) within the hour while the nonce is current; ("expired", None) for a
    genuine link past its hour or made before a re-confirmation; ("bad", None) otherwise."""
    max_age = int(DATA_LINK_LIFETIME.total_seconds())
    try:
        payload = read_token(settings.secret_key, "data", token, max_age, now)
    except TokenExpired:
        return "expired", None
    except TokenInvalid:
        return "bad", None
    sid, nonce = payload.get("sid"), payload.get("n")
    if not isinstance(sid, int) or not isinstance(nonce, str):
        return "bad", None
    with db.session() as session:
        sub = session.get(Subscriber, sid)
    if sub is None or sub.status == "erased":
        return "bad", None
    return ("ok", sub) if sub.token_nonce == nonce else ("expired", None)
