"""The links a subscriber gets in mail: unsubscribe and preferences, the same everywhere."""

from __future__ import annotations

import functools
import secrets
from datetime import datetime
from email.utils import parseaddr

from mailer.config import Settings
from mailer.tokens import make_token


def subscriber_payload(subscriber_id: int, nonce: str) -> dict[str, object]:
    """What a link token carries: the row id and its current nonce, never the address."""
    return {"sid": subscriber_id, "n": nonce}


def link(settings: Settings, path: str) -> str:
    return settings.base_url.rstrip("/") + path


def confirm_url(
    settings: Settings, subscriber_id: int, nonce: str, now: datetime | None = None
) -> str:
    """`now` stamps the token, so its expiry follows the same clock that checks it."""
    payload = subscriber_payload(subscriber_id, nonce)
    token = make_token(settings.secret_key, "confirm", payload, now)
    return link(settings, f"/confirm/{token}")


def unsubscribe_token(settings: Settings, subscriber_id: int, nonce: str) -> str:
    return make_token(settings.secret_key, "unsubscribe", subscriber_payload(subscriber_id, nonce))


def unsubscribe_url(settings: Settings, subscriber_id: int, nonce: str) -> str:
    return link(settings, f"/unsubscribe/{unsubscribe_token(settings, subscriber_id, nonce)}")


def preferences_url(settings: Settings, subscriber_id: int, nonce: str) -> str:
    token = make_token(settings.secret_key, "preferences", subscriber_payload(subscriber_id, nonce))
    return link(settings, f"/preferences/{token}")


def sender_domain(settings: Settings) -> str:
    return _domain_of(settings.from_addr)


@functools.lru_cache(maxsize=16)
def _domain_of(address: str) -> str:
    """Cached: every message asks several times, and parseaddr is slow."""
    return parseaddr(address)[1].rsplit("@", 1)[-1].lower() or "localhost"


def unsubscribe_mailto(settings: Settings, subscriber_id: int, nonce: str) -> str | None:
    """For clients that cannot POST: mail whose subject carries the signed unsubscribe token,
    so `mailer inbound` can act on it and nobody can forge one; None when no address is set."""
    address = parseaddr(settings.unsubscribe_address)[1]
    if not address:
        return None
    token = unsubscribe_token(settings, subscriber_id, nonce)
    return f"mailto:{address}?subject=unsubscribe-{token}"


def new_message_id(settings: Settings) -> str:
    """A Message-ID on our own domain; made once per message and kept for every retry."""
    return f"<{secrets.token_hex(12)}@{sender_domain(settings)}>"
