"""Resend webhooks, signed by Svix: HMAC-SHA256 of id.timestamp.body with the whsec_ secret."""

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
    check_fresh,
    load_json,
    parse_time,
    text_field,
)

NAME = "resend"
PREFIX = "whsec_"


def secret_bytes(secret: str) -> bytes:
    """The HMAC key: the base64 text after "whsec_"."""
    return base64.b64decode(secret.removeprefix(PREFIX), validate=True)


def check_secret(value: object) -> str | None:
    """Settings check: empty, or a Svix signing secret."""
    if not value:
        return None
    text = str(value)
    try:
        ok = text.startswith(PREFIX) and bool(secret_bytes(text))
    except (binascii.Error, ValueError):
        ok = False
    return None if ok else "the signing secret Resend shows, starting with whsec_"


def configured(settings: Settings) -> bool:
    return bool(settings.resend_webhook_secret)


def verify(request: IncomingRequest, settings: Settings, now: datetime) -> str:
    """Check one of the v1 signatures matches and the timestamp is recent; return svix-id."""
    if not configured(settings):
        raise NotConfigured(
            "The Resend webhook is not configured: set MAILER_RESEND_WEBHOOK_SECRET."
        )
    msg_id = request.header("svix-id")
    timestamp = request.header("svix-timestamp")
    signatures = request.header("svix-signature")
    if not msg_id or not timestamp or not signatures:
        raise BadSignature("The svix-id, svix-timestamp and svix-signature headers are required.")
    check_fresh(timestamp, now, settings.webhook_tolerance)
    signed = f"{msg_id}.{timestamp}.".encode() + request.body
    expected = base64.b64encode(
        hmac.new(secret_bytes(settings.resend_webhook_secret), signed, hashlib.sha256).digest()
    ).decode()
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected.encode()):
            return msg_id
    raise BadSignature("No Resend (Svix) signature matches the body.")


def _kind(event_type: str, data: dict[str, Any]) -> str:
    if event_type == "email.bounced":
        bounce = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
        return "bounce_hard" if text_field(bounce, "type") == "Permanent" else "bounce_soft"
    if event_type == "contact.updated":
        return "unsubscribe" if data.get("unsubscribed") is True else "other"
    return {
        "email.delivered": "delivered",
        "email.delivery_delayed": "deferred",
        "email.complained": "complaint",
        "email.clicked": "click",
        "email.opened": "open",
    }.get(event_type, "other")


def _recipients(event_type: str, data: dict[str, Any]) -> list[str]:
    if event_type.startswith("contact."):
        return [text_field(data, "email")]
    to = data.get("to")
    if isinstance(to, str):
        return [to]
    return [t for t in to if isinstance(t, str)] if isinstance(to, list) else []


def parse(request: IncomingRequest, settings: Settings, now: datetime, **_: object) -> Parsed:
    """Verify, then turn Resend's event (one per recipient in `to`) into ours."""
    msg_id = verify(request, settings, now)
    body = load_json(request.body)
    if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
        raise Malformed("Resend sends a JSON object with 'type' and 'data'.")
    event_type = text_field(body, "type")
    data = body["data"]
    kind = _kind(event_type, data)
    bounce = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
    click = data.get("click") if isinstance(data.get("click"), dict) else {}
    recipients = _recipients(event_type, data) or [""]
    return Parsed(
        [
            WebhookEvent(
                provider=NAME,
                event_id=msg_id if index == 0 else f"{msg_id}:{index}",
                kind=kind,
                recipient=recipient or None,
                at=parse_time(body.get("created_at"), now),
                provider_id=text_field(data, "email_id") or None,
                reason=text_field(bounce, "message") or event_type,
                url=text_field(click, "link"),
                user_agent=text_field(click, "userAgent"),
                raw=body,
            )
            for index, recipient in enumerate(recipients)
        ]
    )
