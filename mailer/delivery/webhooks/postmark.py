"""Postmark webhooks: basic auth in the URL; bounces, spam complaints, subscription changes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from datetime import datetime
from typing import Any

from mailer.core.config import Settings
from mailer.delivery.webhooks.base import (
    BadSignature,
    IncomingRequest,
    Malformed,
    NotConfigured,
    Parsed,
    WebhookEvent,
    load_json,
    parse_time,
    text_field,
)

NAME = "postmark"

# Postmark's bounce Type values; anything not listed is "other" (auto-replies, tests...).
HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated"}
SOFT = {"SoftBounce", "Transient", "DnsError", "Blocked"}
COMPLAINT = {"SpamComplaint", "SpamNotification"}
SUPPRESSION_KIND = {
    "HardBounce": "bounce_hard",
    "SpamComplaint": "complaint",
    "ManualSuppression": "unsubscribe",
}


def configured(settings: Settings) -> bool:
    return bool(settings.postmark_webhook_user and settings.postmark_webhook_password)


def verify(request: IncomingRequest, settings: Settings) -> None:
    """Check the basic-auth user and password Postmark was given in the webhook URL."""
    if not configured(settings):
        raise NotConfigured(
            "The Postmark webhook is not configured: set MAILER_POSTMARK_WEBHOOK_USER "
            "and MAILER_POSTMARK_WEBHOOK_PASSWORD."
        )
    scheme, _, encoded = request.header("Authorization").partition(" ")
    try:
        user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        user = password = ""
    ok_user = hmac.compare_digest(user.encode(), settings.postmark_webhook_user.encode())
    ok_password = hmac.compare_digest(
        password.encode(), settings.postmark_webhook_password.encode()
    )
    if scheme.lower() != "basic" or not (ok_user and ok_password):
        raise BadSignature("The Postmark webhook credentials are missing or wrong.")


def _bounce(data: dict[str, Any], now: datetime) -> WebhookEvent:
    kind_name = text_field(data, "Type")
    if kind_name in HARD:
        kind = "bounce_hard"
    elif kind_name in SOFT:
        kind = "bounce_soft"
    elif kind_name in COMPLAINT:
        kind = "complaint"
    elif kind_name == "Unsubscribe":
        kind = "unsubscribe"
    else:
        kind = "other"
    if data.get("ID") is None:
        raise Malformed("A Postmark bounce needs its ID.")
    return WebhookEvent(
        provider=NAME,
        event_id=f"{data['RecordType']}:{data['ID']}",
        kind=kind,
        recipient=text_field(data, "Email") or None,
        at=parse_time(data.get("BouncedAt"), now),
        provider_id=text_field(data, "MessageID") or None,
        reason=text_field(data, "Description") or text_field(data, "Name") or kind_name,
        raw=data,
    )


def _digest_id(*parts: object) -> str:
    """Postmark gives some records no id of their own; the same record always hashes the same."""
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:40]


def _subscription_change(data: dict[str, Any], now: datetime) -> WebhookEvent:
    recipient = text_field(data, "Recipient")
    suppress = data.get("SuppressSending") is True
    reason = text_field(data, "SuppressionReason")
    kind = SUPPRESSION_KIND.get(reason, "unsubscribe") if suppress else "other"
    changed = text_field(data, "ChangedAt")
    return WebhookEvent(
        provider=NAME,
        event_id="SubscriptionChange:"
        + _digest_id(text_field(data, "MessageID"), recipient, changed, suppress, reason),
        kind=kind,
        recipient=recipient or None,
        at=parse_time(changed, now),
        provider_id=text_field(data, "MessageID") or None,
        reason=reason if suppress else "reactivated",
        raw=data,
    )


def _delivery(data: dict[str, Any], now: datetime) -> WebhookEvent:
    recipient = text_field(data, "Recipient")
    message = text_field(data, "MessageID")
    return WebhookEvent(
        provider=NAME,
        event_id="Delivery:" + _digest_id(message, recipient),
        kind="delivered",
        recipient=recipient or None,
        at=parse_time(data.get("DeliveredAt"), now),
        provider_id=message or None,
        reason=text_field(data, "Details"),
        raw=data,
    )


def _engagement(data: dict[str, Any], now: datetime) -> WebhookEvent:
    """An Open or Click record; Postmark gives it no id, so its fields make one."""
    record, recipient = data["RecordType"], text_field(data, "Recipient")
    message, at = text_field(data, "MessageID"), text_field(data, "ReceivedAt")
    link = text_field(data, "OriginalLink")
    return WebhookEvent(
        provider=NAME,
        event_id=f"{record}:" + _digest_id(message, recipient, at, link),
        kind="click" if record == "Click" else "open",
        recipient=recipient or None,
        at=parse_time(at, now),
        provider_id=message or None,
        reason=record,
        url=link,
        user_agent=text_field(data, "UserAgent"),
        raw=data,
    )


def parse(request: IncomingRequest, settings: Settings, now: datetime, **_: object) -> Parsed:
    """Verify, then turn Postmark's one record into ours."""
    verify(request, settings)
    data = load_json(request.body)
    if not isinstance(data, dict) or not text_field(data, "RecordType"):
        raise Malformed("Postmark sends a JSON object with a RecordType.")
    record = data["RecordType"]
    if record in ("Bounce", "SpamComplaint"):
        return Parsed([_bounce(data, now)])
    if record == "SubscriptionChange":
        return Parsed([_subscription_change(data, now)])
    if record == "Delivery":
        return Parsed([_delivery(data, now)])
    if record in ("Open", "Click"):
        return Parsed([_engagement(data, now)])
    return Parsed([])  # inbound and others: acknowledged, nothing to do
