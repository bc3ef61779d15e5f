"""The links a subscriber gets in mail: unsubscribe and preferences, the same everywhere."""

from __future__ import annotations

import functools
import secrets
from datetime import datetime
from email.utils import parseaddr

from mailer.core.config import Settings
from mailer.readers.tokens import TokenInvalid, make_token, read_token

# A test mail is addressed to a sample reader: no row has this id, no reader this nonce.
SAMPLE_ID = 0
SAMPLE_NONCE = "sample"


def subscriber_payload(subscriber_id: int, nonce: str) -> dict[str, object]:
    """What a link token carries: the row id and its current nonce, never the address."""
    return {"sid": subscriber_id, "n": nonce}


def link(settings: Settings, path: str) -> str:
    return settings.base_url.rstrip("/") + path


def confirm_url(
    settings: Settings,
    subscriber_id: int,
    nonce: str,
    now: datetime | None = None,
    first_name: str | None = None,
    newsletters: tuple[str, ...] = (),
) -> str:
    """`now` stamps the token, so its expiry follows the same clock that checks it. The name
    typed at signup and the newsletters chosen ride in the signed token and are stored only
    when the owner confirms (a token without newsletters confirms the default one)."""
    payload = subscriber_payload(subscriber_id, nonce)
    if first_name:
        payload["fn"] = first_name
    if newsletters:
        payload["nl"] = list(newsletters)
    token = make_token(settings.secret_key, "confirm", payload, now)
    return link(settings, f"/confirm/{token}")


def unsubscribe_token(
    settings: Settings,
    subscriber_id: int,
    nonce: str,
    issued: datetime | None = None,
    newsletter_id: int | None = None,
) -> str:
    """Stamped with `issued` (the mail's send time), so the link's age can be told later; a
    digest's link names its newsletter, and one without a newsletter leaves every one."""
    payload = subscriber_payload(subscriber_id, nonce)
    if newsletter_id is not None:
        payload["nl"] = newsletter_id
    return make_token(settings.secret_key, "unsubscribe", payload, issued)


def unsubscribe_url(
    settings: Settings,
    subscriber_id: int,
    nonce: str,
    issued: datetime | None = None,
    newsletter_id: int | None = None,
) -> str:
    return unsubscribe_links(settings, subscriber_id, nonce, issued, newsletter_id)[0]


def unsubscribe_links(
    settings: Settings,
    subscriber_id: int,
    nonce: str,
    issued: datetime | None = None,
    newsletter_id: int | None = None,
) -> tuple[str, str | None]:
    """The one-click URL and, when MAILER_UNSUBSCRIBE_ADDRESS is set, a mailto: whose subject
    carries the same signed token, so `mailer inbound` can act on it and none can be forged."""
    token = unsubscribe_token(settings, subscriber_id, nonce, issued, newsletter_id)
    address = _address_of(settings.unsubscribe_address)
    mailto = f"mailto:{address}?subject=unsubscribe-{token}" if address else None
    return link(settings, f"/unsubscribe/{token}"), mailto


def preferences_url(
    settings: Settings, subscriber_id: int, nonce: str, issued: datetime | None = None
) -> str:
    """Stamped with `issued` (the mail's send time): the page it opens expires like unsubscribe."""
    payload = subscriber_payload(subscriber_id, nonce)
    token = make_token(settings.secret_key, "preferences", payload, issued)
    return link(settings, f"/preferences/{token}")


def data_url(settings: Settings, subscriber_id: int, nonce: str, now: datetime) -> str:
    """The one-hour link, mailed on request, that downloads or erases a reader's data."""
    token = make_token(settings.secret_key, "data", subscriber_payload(subscriber_id, nonce), now)
    return link(settings, f"/my-data/{token}")


def sender_domain(settings: Settings) -> str:
    return _domain_of(settings.from_addr)


@functools.lru_cache(maxsize=16)
def _address_of(mailbox: str) -> str:
    """Cached: every message asks, and parseaddr is slow."""
    return parseaddr(mailbox)[1]


def _domain_of(address: str) -> str:
    return _address_of(address).rsplit("@", 1)[-1].lower() or "localhost"


def message_id_forms(message_id: str) -> list[str]:
    """A Message-ID as reports and providers may quote it, with or without angle brackets."""
    bare = message_id.strip().strip("<>")
    return [bare, f"<{bare}>"]


def new_message_id(settings: Settings) -> str:
    """A Message-ID on our own domain; made once per message and kept for every retry."""
    return f"<{secrets.token_hex(12)}@{sender_domain(settings)}>"


def sender_address(settings: Settings) -> str:
    """The bare From address, for a reader to add to their contacts."""
    return _address_of(settings.from_addr)


def is_sample_link(settings: Settings, purpose: str, token: str) -> bool:
    """A genuine link from a test mail or preview, which stands for no real reader."""
    try:
        payload = read_token(settings.secret_key, purpose, token)
    except TokenInvalid:
        return False
    return payload.get("sid") == SAMPLE_ID and payload.get("n") == SAMPLE_NONCE
