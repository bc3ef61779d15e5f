"""Mailgun webhooks: HMAC-SHA256 of timestamp + token; each token is accepted once."""

from __future__ import annotations

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
    check_fresh,
    load_json,
    parse_time,
    text_field,
)

NAME = "mailgun"


def configured(settings: Settings) -> bool:
    return bool(settings.mailgun_webhook_key)


def require(settings: Settings) -> None:
    if not configured(settings):
        raise NotConfigured(
            "The Mailgun webhook is not configured: set MAILER_MAILGUN_WEBHOOK_KEY."
        )


def verify(signature: dict[str, Any], settings: Settings, now: datetime) -> str:
    """Check the HMAC and the timestamp; return the token, which the caller claims once."""
    require(settings)
    timestamp = str(signature.get("timestamp") or "")
    token = text_field(signature, "token")
    given = text_field(signature, "signature")
    if not timestamp or not token or not given:
        raise BadSignature("The Mailgun signature needs timestamp, token and signature.")
    check_fresh(timestamp, now, settings.webhook_tolerance)
    expected = hmac.new(
        settings.mailgun_webhook_key.encode(), (timestamp + token).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise BadSignature("The Mailgun signature does not match.")
    return token


def _kind(data: dict[str, Any]) -> str:
    event = text_field(data, "event")
    if event == "failed":
        return "bounce_hard" if text_field(data, "severity") == "permanent" else "bounce_soft"
    return {
        "delivered": "delivered",
        "complained": "complaint",
        "unsubscribed": "unsubscribe",
        "clicked": "click",
        "opened": "open",
    }.get(event, "other")


def _reason(data: dict[str, Any]) -> str:
    status = data.get("delivery-status")
    if isinstance(status, dict):
        text = text_field(status, "description") or text_field(status, "message")
        if text:
            return text
    return text_field(data, "reason") or text_field(data, "event")


def parse(request: IncomingRequest, settings: Settings, now: datetime, **_: object) -> Parsed:
    """Verify, then turn Mailgun's one event into ours."""
    require(settings)
    body = load_json(request.body)
    if not isinstance(body, dict) or not isinstance(body.get("signature"), dict):
        raise Malformed("Mailgun sends a JSON object with 'signature' and 'event-data'.")
    token = verify(body["signature"], settings, now)
    data = body.get("event-data")
    if not isinstance(data, dict) or not text_field(data, "id") or not text_field(data, "event"):
        raise Malformed("Mailgun's event-data needs id and event.")
    message = data.get("message") if isinstance(data.get("message"), dict) else {}
    headers = message.get("headers") if isinstance(message.get("headers"), dict) else {}
    message_id = text_field(headers, "message-id")
    client = data.get("client-info") if isinstance(data.get("client-info"), dict) else {}
    event = WebhookEvent(
        provider=NAME,
        event_id=data["id"],
        kind=_kind(data),
        recipient=text_field(data, "recipient") or None,
        at=parse_time(data.get("timestamp"), now),
        provider_id=message_id or None,
        message_id=f"<{message_id.strip('<>')}>" if message_id else None,
        reason=_reason(data),
        url=text_field(data, "url"),
        user_agent=text_field(client, "user-agent"),
        raw=data,
    )
    return Parsed([event], nonce=token)
