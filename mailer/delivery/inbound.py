"""Mail handed over by the MTA (`mailer inbound`): unsubscribe requests sent to the
List-Unsubscribe mailto: address, and bounce (RFC 3464) and complaint (RFC 5965) reports sent
to the SMTP Return-Path.

Nothing in such mail is trusted on its own word. An unsubscribe request counts only when its
subject carries the signed token from the link. A report counts only when it quotes the
Message-ID of a message we sent AND names that message's recipient (Final-Recipient or
Original-Recipient in a bounce, Original-Rcpt-To in a complaint): a Message-ID alone is seen by
whoever the mail is forwarded to or archived by. With MAILER_BOUNCE_VERP a report that came
back to a per-message return path (`--recipient`, the envelope address the MTA delivered it
to) is matched by that address's signed token instead, and needs neither (verp.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser, HeaderParser

from sqlalchemy import select

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.errors import MailerError
from mailer.core.models import Delivery, OutboxMessage, Subscriber
from mailer.delivery import guardrails, verp
from mailer.delivery.webhooks.apply import apply_events
from mailer.delivery.webhooks.base import WebhookEvent
from mailer.readers import subscriptions
from mailer.readers.links import message_id_forms

MAX_MAIL_BYTES = 1 << 20  # replies and reports are a few KB; the rest is not read
# Linear on any subject: a match starts only where a token cannot have begun earlier, and the
# possessive runs never backtrack ("unsubscribe-" repeated was quadratic: 1 MB took minutes).
_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])unsubscribe-([A-Za-z0-9_-]++(?:\.[A-Za-z0-9_-]++){1,2})")
_STATUS = re.compile(r"^([245])\.\d{1,3}\.\d{1,3}")


class NotAnUnsubscribe(MailerError):
    """The mail is not a genuine unsubscribe request (exit 1: the MTA returns it)."""


class NotOurReport(MailerError):
    """A bounce or complaint report about no message we sent (exit 1)."""


def handle_mail(
    db: Database, settings: Settings, raw: bytes, now: datetime, recipient: str = ""
) -> str:
    """Act on one mail: a report if it is one, else an unsubscribe request; one sentence back.
    `recipient` is the envelope address the MTA delivered the mail to, when it says."""
    message = BytesParser(policy=policy.default).parsebytes(raw)
    delivery_id = verp.delivery_of(settings, recipient) if recipient else None
    if delivery_id is not None:
        return apply_returned(db, settings, message, delivery_id, now)
    if raw.strip() and message.get_content_type() == "multipart/report":
        return apply_report(db, settings, message, now)
    outcome = unsubscribe_by_mail(db, settings, raw, now)
    if outcome.result == "already":
        return f"Subscriber {outcome.subscriber_id} had already unsubscribed."
    return f"Subscriber {outcome.subscriber_id} unsubscribed by mail."


def unsubscribe_by_mail(
    db: Database, settings: Settings, raw: bytes, now: datetime
) -> subscriptions.ReaderOutcome:
    """Unsubscribe the reader whose token the subject carries; repeats change nothing."""
    if not raw.strip():
        raise NotAnUnsubscribe("no mail was given on standard input")
    headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
    subject = str(headers.get("Subject", "") or "")
    match = _TOKEN.search(subject)
    if match is None:
        raise NotAnUnsubscribe("the mail's subject carries no unsubscribe token")
    sub = subscriptions.subscriber_for(db, settings, "unsubscribe", match.group(1), now)
    if sub is None:
        raise NotAnUnsubscribe("the unsubscribe token in the subject is not genuine")
    scope = subscriptions.unsubscribe_scope(settings, match.group(1))
    outcome = subscriptions.unsubscribe(db, sub.id, "mail", now, newsletter_id=scope)
    if outcome.result == "bad-link":  # erased between the two reads
        raise NotAnUnsubscribe("the unsubscribe token in the subject is not genuine")
    return outcome


@dataclass(frozen=True)
class Report:
    kind: str  # a webhook event kind: bounce_hard, bounce_soft, deferred, delivered, complaint
    message_id: str
    detail: str
    recipients: frozenset[str] = frozenset()  # addresses the report says it is about


_RECIPIENT_FIELDS = ("Final-Recipient", "Original-Recipient", "Original-Rcpt-To")


def _named_recipients(block: Message) -> set[str]:
    """`rfc822; a@b` (RFC 3464) or a bare address (RFC 5965), lower-cased; redactions drop."""
    found = set()
    for name in _RECIPIENT_FIELDS:
        for value in block.get_all(name, []) or []:
            address = str(value).rsplit(";", 1)[-1].strip().strip("<>").strip().lower()
            if "@" in address and not any(c.isspace() for c in address):
                found.add(address)
    return found


def read_report(message: Message) -> Report | None:
    """The kind of a delivery-status or feedback report and the Message-ID it quotes ("" when
    it quotes none)."""
    report_type = str(message.get_param("report-type", "") or "").lower()
    fields: list[Message] = []
    quoted_id = ""
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/delivery-status", "message/feedback-report"):
            fields.extend(p for p in part.get_payload() if isinstance(p, Message))
        elif kind == "message/rfc822" and not quoted_id:
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                quoted_id = str(inner[0].get("Message-ID", "") or "")
        elif kind == "text/rfc822-headers" and not quoted_id:
            headers = HeaderParser(policy=policy.default).parsestr(part.get_content())
            quoted_id = str(headers.get("Message-ID", "") or "")
    quoted_id = quoted_id.strip()
    if report_type == "feedback-report":
        feedback = next((str(f["Feedback-Type"]) for f in fields if f["Feedback-Type"]), "abuse")
        named = frozenset().union(*(_named_recipients(f) for f in fields))
        return Report("complaint", quoted_id, f"feedback report: {feedback}", named)
    if report_type != "delivery-status":
        return None
    for block in fields:
        action = str(block.get("Action", "") or "").strip().lower()
        if not action:
            continue  # the per-message block
        status = str(block.get("Status", "") or "").strip()
        code = _STATUS.match(status)
        detail = f"{action} {status} {block.get('Diagnostic-Code', '') or ''}".strip()
        named = frozenset(_named_recipients(block))
        if action == "failed":
            hard = code is None or code.group(1) == "5"
            return Report("bounce_hard" if hard else "bounce_soft", quoted_id, detail, named)
        if action == "delayed":
            return Report("deferred", quoted_id, detail, named)
        if action in ("delivered", "relayed", "expanded"):
            return Report("delivered", quoted_id, detail, named)
    return None


def apply_report(db: Database, settings: Settings, message: Message, now: datetime) -> str:
    """Apply a report as a provider event would be: the same suppressions and counts."""
    report = read_report(message)
    if report is None or not report.message_id:
        raise NotOurReport("the report names no action and no Message-ID we can act on")
    recipient = _recipient_of(db, report.message_id)
    if recipient is None:
        raise NotOurReport(f"the report is about {report.message_id}, which we did not send")
    if not report.recipients:
        raise NotOurReport(
            "the report names no recipient (Final-Recipient, Original-Recipient or "
            "Original-Rcpt-To), so it cannot be checked against the message it quotes"
        )
    if recipient.strip().lower() not in report.recipients:
        raise NotOurReport(
            f"the report names a recipient other than the one {report.message_id} went to"
        )
    return _apply(db, settings, report, report.message_id, recipient, now)


def apply_returned(
    db: Database, settings: Settings, message: Message, delivery_id: int, now: datetime
) -> str:
    """Apply a report that came back to a delivery's own return path: the signed token names
    the message and its reader, so what the report quotes or names is not needed."""
    report = read_report(message) if message.get_content_type() == "multipart/report" else None
    if report is None:
        raise NotOurReport(
            "the mail to the return path is no bounce or complaint report (an auto-reply?)"
        )
    with db.session() as session:
        row = session.execute(
            select(Delivery.message_id, Subscriber.email)
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
            .where(Delivery.id == delivery_id)
        ).first()
    if row is None or not row.message_id or not row.email:
        raise NotOurReport("the return path names a message whose reader is no longer here")
    return _apply(db, settings, report, row.message_id, row.email, now)


def _apply(
    db: Database,
    settings: Settings,
    report: Report,
    message_id: str,
    recipient: str,
    now: datetime,
) -> str:
    """Apply a report about one of our messages as a provider event; then the guardrails."""
    event = WebhookEvent(
        provider="smtp",
        event_id=f"report:{message_id}:{report.kind}",
        kind=report.kind,
        recipient=recipient,
        at=now,
        message_id=message_id,
        reason=report.detail[:200],
    )
    result = apply_events(db, [event], now, soft_bounce_limit=settings.soft_bounce_limit)
    if result.duplicates:
        return f"That report ({report.kind}) about {message_id} was applied before."
    reasons = guardrails.watch(db, settings, result.flagged, now)
    paused = "".join(f" Paused the send ({reason})." for reason in reasons)
    suppressed = " The address is now suppressed." if result.suppressed else ""
    return f"Applied a {report.kind} report about {message_id}.{suppressed}{paused}"


def _recipient_of(db: Database, message_id: str) -> str | None:
    """Who a message we sent went to: a digest delivery or an outbox message."""
    ids = message_id_forms(message_id)
    with db.session() as session:
        email = session.scalar(
            select(Subscriber.email)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.message_id.in_(ids))
        )
        if email:
            return email
        return session.scalar(
            select(OutboxMessage.recipient).where(
                OutboxMessage.message_id.in_(ids), OutboxMessage.recipient != "erased"
            )
        )
