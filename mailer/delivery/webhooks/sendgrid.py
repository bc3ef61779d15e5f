"""SendGrid's Event Webhook: an ECDSA P-256 signature over timestamp + body, events in a list."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mailer.core.config import Settings
from mailer.delivery.webhooks.base import (
    BadSignature,
    IncomingRequest,
    Malformed,
    NotConfigured,
    Parsed,
    WebhookEvent,
    check_fresh,
    load_json,
    parse_time,
    text_field,
)

NAME = "sendgrid"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"


def load_public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The verification key as SendGrid shows it (base64 DER), or as a PEM block."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
        else:
            key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, TypeError):
        raise ValueError("not a base64 or PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an elliptic-curve (ECDSA) public key")
    return key


def check_key(value: object) -> str | None:
    """Settings check: empty, or a key SendGrid's verification key could be."""
    if not value:
        return None
    try:
        load_public_key(str(value))
    except ValueError as exc:
        return f"SendGrid's base64 verification key ({exc})"
    return None


def configured(settings: Settings) -> bool:
    return bool(settings.sendgrid_webhook_key)


def verify(request: IncomingRequest, settings: Settings, now: datetime) -> None:
    """Check SendGrid signed exactly these bytes at a recent time."""
    if not configured(settings):
        raise NotConfigured(
            "The SendGrid webhook is not configured: set MAILER_SENDGRID_WEBHOOK_KEY."
        )
    signature = request.header(SIGNATURE_HEADER)
    timestamp = request.header(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise BadSignature(f"The {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} headers are required.")
    check_fresh(timestamp, now, settings.webhook_tolerance)
    key = load_public_key(settings.sendgrid_webhook_key)
    try:
        key.verify(
            base64.b64decode(signature, validate=True),
            timestamp.encode() + request.body,
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, binascii.Error, ValueError):
        raise BadSignature("The SendGrid signature does not match the body.") from None


def _kind(item: dict[str, Any]) -> str:
    event = text_field(item, "event")
    if event == "bounce":
        # SendGrid's `type` is "bounce" for a hard bounce and "blocked" for a temporary block.
        return "bounce_soft" if text_field(item, "type") == "blocked" else "bounce_hard"
    return {
        "delivered": "delivered",
        "deferred": "deferred",
        "spamreport": "complaint",
        "unsubscribe": "unsubscribe",
        "group_unsubscribe": "unsubscribe",
        "click": "click",
        "open": "open",
    }.get(event, "other")


def parse(request: IncomingRequest, settings: Settings, now: datetime, **_: object) -> Parsed:
    """Verify, then turn SendGrid's list of events into ours."""
    verify(request, settings, now)
    items = load_json(request.body)
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise Malformed("SendGrid sends a JSON list of event objects.")
    events = []
    for item in items:
        event_id = text_field(item, "sg_event_id")
        if not event_id or not text_field(item, "event"):
            raise Malformed("Every SendGrid event needs sg_event_id and event.")
        provider_id = text_field(item, "sg_message_id").split(".", 1)[0] or None
        events.append(
            WebhookEvent(
                provider=NAME,
                event_id=event_id,
                kind=_kind(item),
                recipient=text_field(item, "email") or None,
                at=parse_time(item.get("timestamp"), now),
                provider_id=provider_id,
                message_id=text_field(item, "smtp-id") or None,
                reason=text_field(item, "reason") or text_field(item, "event"),
                url=text_field(item, "url"),
                user_agent=text_field(item, "useragent"),
                raw=item,
            )
        )
    return Parsed(events)
