"""What every provider's webhook parser shares: the normalised event, the request, the errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mailer.core import safejson

KINDS = (
    "delivered",
    "bounce_hard",
    "bounce_soft",
    "complaint",
    "unsubscribe",
    "deferred",
    "click",  # a tracked link followed (`url` says which)
    "open",  # the provider's open pixel loaded
    "other",
)


@dataclass(frozen=True)
class WebhookEvent:
    """One thing a provider told us about one recipient, in our words."""

    provider: str
    event_id: str
    kind: str
    recipient: str | None
    at: datetime
    provider_id: str | None = None  # the provider's id for the message
    message_id: str | None = None  # our Message-ID, when the provider echoes it
    reason: str = ""
    url: str = ""  # for a click: the link followed
    user_agent: str = ""  # for a click or open: who followed it, as the provider saw it
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown webhook event kind {self.kind!r}")


@dataclass(frozen=True)
class IncomingRequest:
    """The parts of an HTTP request a verifier needs; headers are looked up case-blind."""

    body: bytes
    headers: Mapping[str, str]

    @classmethod
    def of(cls, body: bytes, headers: Mapping[str, str] | list[tuple[str, str]]) -> IncomingRequest:
        items = headers.items() if isinstance(headers, Mapping) else headers
        return cls(body=body, headers={k.lower(): v for k, v in items})

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass(frozen=True)
class Parsed:
    """A verified request: its events, a one-time token to claim, a subscription to confirm."""

    events: list[WebhookEvent]
    nonce: str | None = None
    confirm_url: str | None = None


class WebhookError(Exception):
    """A request we refuse; `status` is the HTTP answer, the message one sentence for the sender."""

    status = 400


class BadSignature(WebhookError):
    """The request is not provably from the provider: wrong signature, stale, or replayed."""


class Malformed(WebhookError):
    """The body is not the provider's documented shape."""


class NotConfigured(WebhookError):
    """The operator has not set this provider's webhook secret, so nothing can be verified."""

    status = 404


def load_json(body: bytes) -> Any:
    """Decode a JSON body or refuse it with a readable message."""
    try:
        return safejson.loads(body)
    except safejson.JSONTooDeep as exc:
        raise Malformed(str(exc)) from None
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise Malformed("The body is not valid JSON.") from None


def check_fresh(timestamp: str | int | float, now: datetime, tolerance: int) -> None:
    """Refuse a signed timestamp outside the tolerance, so a captured request cannot be replayed."""
    try:
        at = datetime.fromtimestamp(float(timestamp), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise BadSignature("The signature timestamp is missing or not a number.") from None
    if abs((now - at).total_seconds()) > tolerance:
        raise BadSignature(
            f"The signature timestamp is more than {tolerance} seconds from now; "
            "refusing a stale or replayed request."
        )


def parse_time(value: object, fallback: datetime) -> datetime:
    """A provider's timestamp (epoch seconds or ISO 8601) as an aware UTC datetime."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return fallback
    if isinstance(value, str) and value:
        text = value.strip().replace("Z", "+00:00")
        # Postmark and .NET send seven fractional digits; Python reads at most six.
        if "." in text:
            head, _, tail = text.partition(".")
            digits = "".join(c for c in tail if c.isdigit())
            zone = tail[len(digits) :]
            text = f"{head}.{digits[:6]}{zone}"
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            return fallback
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return fallback


def text_field(data: Mapping[str, Any], key: str) -> str:
    """A string field of a payload, or "" when absent or not a string."""
    value = data.get(key)
    return value if isinstance(value, str) else ""
