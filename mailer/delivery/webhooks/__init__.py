"""Provider webhooks (bounces, complaints, unsubscribes): verify, normalise, apply once.

One module per provider, each with `configured(settings)` and
`parse(request, settings, now, **context) -> Parsed` that refuses anything unverified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from types import ModuleType

import requests

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.delivery.webhooks import mailgun, postmark, resend, sendgrid, ses
from mailer.delivery.webhooks.apply import ApplyResult, apply_events
from mailer.delivery.webhooks.base import (
    KINDS,
    BadSignature,
    IncomingRequest,
    Malformed,
    NotConfigured,
    Parsed,
    WebhookError,
    WebhookEvent,
)
from mailer.delivery.webhooks.ses import CertificateCache
from mailer.editions.clicks.provider import ProviderRules

PROVIDERS: dict[str, ModuleType] = {
    "sendgrid": sendgrid,
    "mailgun": mailgun,
    "postmark": postmark,
    "ses": ses,
    "resend": resend,
}

__all__ = [
    "KINDS",
    "PROVIDERS",
    "ApplyResult",
    "BadSignature",
    "CertificateCache",
    "IncomingRequest",
    "Malformed",
    "NotConfigured",
    "Parsed",
    "Receipt",
    "UnknownProvider",
    "WebhookError",
    "WebhookEvent",
    "apply_events",
    "receive",
]


class UnknownProvider(WebhookError):
    status = 404


class ConfirmFailed(WebhookError):
    """AWS did not accept our subscription confirmation; SNS will ask again."""

    status = 502


@dataclass(frozen=True)
class Receipt:
    """What one webhook request did, for the 2xx answer."""

    result: ApplyResult
    confirmed: bool = False


def _confirm(http: requests.Session, url: str) -> None:
    """GET the SubscribeURL of a verified SubscriptionConfirmation."""
    try:
        response = http.get(url)
    except requests.RequestException as exc:
        raise ConfirmFailed(f"Could not reach the SNS SubscribeURL ({exc}).") from None
    if response.status_code != 200:
        raise ConfirmFailed(
            f"SNS answered {response.status_code} to the subscription confirmation."
        )


def receive(
    provider: str,
    request: IncomingRequest,
    *,
    db: Database,
    settings: Settings,
    http: requests.Session,
    now: datetime,
    certs: CertificateCache,
) -> Receipt:
    """Verify one provider request and apply its events; raises WebhookError to refuse it."""
    module = PROVIDERS.get(provider)
    if module is None:
        raise UnknownProvider(
            f"No webhook for {provider!r}; the providers are: {', '.join(PROVIDERS)}."
        )
    parsed: Parsed = module.parse(request, settings, now, http=http, certs=certs)
    if parsed.confirm_url:
        _confirm(http, parsed.confirm_url)
    result = apply_events(
        db,
        parsed.events,
        now,
        nonce=(provider, parsed.nonce) if parsed.nonce else None,
        soft_bounce_limit=settings.soft_bounce_limit,
        clicks=ProviderRules.of(settings),
        oldest=now - timedelta(days=settings.webhook_event_days - 1),
    )
    return Receipt(result=result, confirmed=bool(parsed.confirm_url))
