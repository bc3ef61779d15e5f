"""Mail sent to the List-Unsubscribe mailto: address, handed over by the MTA (`mailer inbound`).

The subject carries the same signed token as the one-click link, so the sender's address is
never trusted and an unsubscribe cannot be forged for someone else.
"""

from __future__ import annotations

import re
from datetime import datetime
from email import policy
from email.parser import BytesHeaderParser

from mailer import subscriptions
from mailer.config import Settings
from mailer.db import Database
from mailer.errors import MailerError

MAX_MAIL_BYTES = 1 << 20  # a reply to a mailto: is a few KB; the rest is not read
_TOKEN = re.compile(r"unsubscribe-([A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)")


class NotAnUnsubscribe(MailerError):
    """The mail is not a genuine unsubscribe request (exit 1: the MTA returns it)."""


def unsubscribe_by_mail(
    db: Database, settings: Settings, raw: bytes, now: datetime
) -> subscriptions.Outcome:
    """Unsubscribe the reader whose token the subject carries; repeats change nothing."""
    if not raw.strip():
        raise NotAnUnsubscribe("no mail was given on standard input")
    headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
    subject = str(headers.get("Subject", "") or "")
    match = _TOKEN.search(subject)
    if match is None:
        raise NotAnUnsubscribe("the mail's subject carries no unsubscribe token")
    sub = subscriptions.subscriber_for(db, settings, "unsubscribe", match.group(1))
    if sub is None:
        raise NotAnUnsubscribe("the unsubscribe token in the subject is not genuine")
    outcome = subscriptions.unsubscribe(db, sub.id, "mail", now)
    if outcome.result == "bad-link":  # erased between the two reads
        raise NotAnUnsubscribe("the unsubscribe token in the subject is not genuine")
    return outcome
