"""Download and erasure go through a link mailed on request, so a forwarded issue opens neither."""

from __future__ import annotations

from datetime import datetime, timedelta

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.models import Subscriber
from mailer.readers.reader_mail import data_link_values
from mailer.readers.subscriptions import ReaderOutcome, queue_reader_mail
from mailer.readers.tokens import TokenExpired, TokenInvalid, read_token

DATA_LINK_LIFETIME = timedelta(hours=1)


def send_data_link(
    db: Database, settings: Settings, subscriber_id: int, now: datetime
) -> ReaderOutcome:
    """Mail the stored address a one-hour data link, under the confirmation mail's limits."""
    minutes = int(DATA_LINK_LIFETIME.total_seconds() // 60)

    def row(sub: Subscriber) -> dict:
        return data_link_values(
            settings, sub.id, sub.email, sub.token_nonce, now, minutes, sub.language
        )

    return queue_reader_mail(db, subscriber_id, now, "data", row)


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
