"""Amazon SES through SNS: the SNS message signature (v1 SHA1, v2 SHA256) checked against
AWS's certificate, fetched only from an allowed host, before anything is believed."""

from __future__ import annotations

import base64
import binascii
import re
import threading
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mailer.core.config import Settings
from mailer.delivery.transports import is_loopback
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

NAME = "ses"
SIGNED_KEYS = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message",
        "MessageId",
        "SubscribeURL",
        "Timestamp",
        "Token",
        "TopicArn",
        "Type",
    ),
}
SIGNED_KEYS["UnsubscribeConfirmation"] = SIGNED_KEYS["SubscriptionConfirmation"]
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}
_LONG_AGO = datetime.min.replace(tzinfo=UTC)


class CertificateCache:
    """AWS signing certificates by URL, so a notification costs no fetch after the first."""

    def __init__(self, limit: int = 16) -> None:
        self.limit = limit
        self.certs: dict[str, x509.Certificate] = {}
        self.lock = threading.Lock()

    def get(self, url: str, http: requests.Session) -> x509.Certificate:
        with self.lock:
            if url in self.certs:
                return self.certs[url]
        try:
            response = http.get(url)
            response.raise_for_status()
            cert = x509.load_pem_x509_certificate(response.content)
        except (requests.RequestException, ValueError) as exc:
            raise BadSignature(
                f"The SNS signing certificate could not be loaded ({exc})."
            ) from None
        with self.lock:
            if len(self.certs) >= self.limit:
                self.certs.pop(next(iter(self.certs)))
            self.certs[url] = cert
        return cert


def host_pattern(pattern: str) -> re.Pattern[str]:
    """`sns.*.amazonaws.com`: each `*` stands for exactly one DNS label."""
    return re.compile(re.escape(pattern.lower()).replace(r"\*", "[a-z0-9-]+") + r"\Z")


def check_aws_url(url: str, settings: Settings, what: str) -> None:
    """Only https URLs on an allowed host (plain http only for a listed loopback test server)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    allowed = any(host_pattern(p).match(host) for p in settings.ses_cert_hosts)
    secure = parts.scheme == "https" or (parts.scheme == "http" and is_loopback(host))
    if not (allowed and secure) or parts.username or parts.password:
        raise BadSignature(
            f"The {what} {url!r} is not an https URL on an allowed host "
            f"({', '.join(settings.ses_cert_hosts)}; see MAILER_SES_CERT_HOSTS)."
        )


def check_hosts(value: object) -> str | None:
    """Settings check: at least one host pattern, no schemes or paths."""
    patterns = tuple(value) if isinstance(value, tuple) else ()
    if patterns and all(re.fullmatch(r"[A-Za-z0-9*.-]+", p) for p in patterns):
        return None
    return "comma-separated host names where * is one label, such as sns.*.amazonaws.com"


def configured(settings: Settings) -> bool:
    return bool(settings.ses_topic_arns)


def require(settings: Settings) -> None:
    if not configured(settings):
        raise NotConfigured("The SES webhook is not configured: set MAILER_SES_TOPIC_ARNS.")


def string_to_sign(message: dict[str, Any]) -> bytes:
    """SNS's canonical form: chosen keys in order, each as "Key\\nValue\\n"."""
    keys = SIGNED_KEYS.get(text_field(message, "Type"))
    if keys is None:
        raise Malformed(f"Unknown SNS message Type {message.get('Type')!r}.")
    lines = []
    for key in keys:
        if key in message:
            if not isinstance(message[key], str):
                raise Malformed(f"The SNS field {key} must be a string.")
            lines.append(f"{key}\n{message[key]}\n")
        elif key != "Subject":
            raise Malformed(f"The SNS message has no {key}.")
    return "".join(lines).encode()


def verify(
    message: dict[str, Any],
    settings: Settings,
    now: datetime,
    http: requests.Session,
    certs: CertificateCache,
) -> None:
    """Check the topic is ours and AWS signed the message with a current certificate."""
    require(settings)
    if text_field(message, "TopicArn") not in settings.ses_topic_arns:
        raise BadSignature("The SNS topic is not one of MAILER_SES_TOPIC_ARNS.")
    algorithm = HASHES.get(str(message.get("SignatureVersion", "")))
    if algorithm is None:
        raise BadSignature("The SNS SignatureVersion must be 1 or 2.")
    try:
        signature = base64.b64decode(text_field(message, "Signature"), validate=True)
    except (binascii.Error, ValueError):
        raise BadSignature("The SNS Signature is not base64.") from None
    url = text_field(message, "SigningCertURL")
    check_aws_url(url, settings, "SigningCertURL")
    cert = certs.get(url, http)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise BadSignature("The SNS signing certificate is not valid at this time.")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise BadSignature("The SNS signing certificate does not hold an RSA key.")
    try:
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise BadSignature("The SNS signature does not match the message.") from None


def check_timestamp(message: dict[str, Any], settings: Settings, now: datetime) -> None:
    """A signed message older than MAILER_SNS_MAX_AGE_SECONDS (or from the future) is refused,
    so a captured notification cannot be replayed once its event row is pruned."""
    at = parse_time(text_field(message, "Timestamp"), _LONG_AGO)  # unreadable counts as stale
    age = (now - at).total_seconds()
    if age > settings.sns_max_age_seconds or -age > settings.webhook_tolerance:
        raise BadSignature(
            f"The SNS Timestamp {text_field(message, 'Timestamp')!r} is too far from now "
            f"(older than {settings.sns_max_age_seconds} seconds or in the future); "
            "refusing a replay."
        )


SECTIONS = {
    "Bounce": ("bounce", "bouncedRecipients"),
    "Complaint": ("complaint", "complainedRecipients"),
    "Delivery": ("delivery", "recipients"),
    "DeliveryDelay": ("deliveryDelay", "delayedRecipients"),
    "Open": ("open", ""),  # opens and clicks name no recipient: mail.destination does
    "Click": ("click", ""),
}


def _kind(kind_name: str, detail: dict[str, Any]) -> tuple[str, str]:
    """Our kind and a short reason for one SES notification type."""
    if kind_name == "Bounce":
        bounce_type = text_field(detail, "bounceType")
        kind = "bounce_hard" if bounce_type == "Permanent" else "bounce_soft"
        return kind, f"{bounce_type} {text_field(detail, 'bounceSubType')}".strip()
    if kind_name == "Complaint":
        feedback = text_field(detail, "complaintFeedbackType")
        return ("other" if feedback == "not-spam" else "complaint"), feedback or "complaint"
    kinds = {"Delivery": "delivered", "DeliveryDelay": "deferred", "Open": "open", "Click": "click"}
    return kinds.get(kind_name, "other"), kind_name


def _events(sns_id: str, note: dict[str, Any], now: datetime) -> list[WebhookEvent]:
    """SES's notification (or event-publishing record) as one event per recipient."""
    kind_name = text_field(note, "notificationType") or text_field(note, "eventType")
    mail = note.get("mail") if isinstance(note.get("mail"), dict) else {}
    headers = mail.get("commonHeaders") if isinstance(mail.get("commonHeaders"), dict) else {}
    section, list_key = SECTIONS.get(kind_name, ("", ""))
    detail = note.get(section) if isinstance(note.get(section), dict) else {}
    kind, reason = _kind(kind_name, detail)
    listed = detail.get(list_key) if list_key and isinstance(detail.get(list_key), list) else []
    if not list_key and isinstance(mail.get("destination"), list):
        listed = mail["destination"]
    recipients = [r.get("emailAddress") if isinstance(r, dict) else r for r in listed]
    recipients = [r for r in recipients if isinstance(r, str) and r] or [None]
    return [
        WebhookEvent(
            provider=NAME,
            event_id=sns_id if index == 0 else f"{sns_id}:{index}",
            kind=kind,
            recipient=recipient,
            at=parse_time(detail.get("timestamp"), now),
            provider_id=text_field(mail, "messageId") or None,
            message_id=text_field(headers, "messageId") or None,
            reason=reason,
            url=text_field(detail, "link"),
            user_agent=text_field(detail, "userAgent"),
            raw=note,
        )
        for index, recipient in enumerate(recipients)
    ]


def parse(
    request: IncomingRequest,
    settings: Settings,
    now: datetime,
    *,
    http: requests.Session,
    certs: CertificateCache,
    **_: object,
) -> Parsed:
    """Verify the SNS envelope; then confirm a subscription or read the SES notification."""
    require(settings)
    message = load_json(request.body)
    if not isinstance(message, dict) or "Type" not in message:
        raise Malformed(
            "SNS sends a JSON object with Type and Signature (turn off raw message delivery)."
        )
    verify(message, settings, now, http, certs)
    check_timestamp(message, settings, now)
    kind = message["Type"]
    if kind == "SubscriptionConfirmation":
        url = text_field(message, "SubscribeURL")
        check_aws_url(url, settings, "SubscribeURL")
        return Parsed([], confirm_url=url)
    if kind != "Notification":
        return Parsed([])
    note = load_json(message["Message"].encode())
    if not isinstance(note, dict):
        return Parsed([])  # a plain-text test notification from the SNS console
    return Parsed(_events(text_field(message, "MessageId"), note, now))
