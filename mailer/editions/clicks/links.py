"""Click links: a sent digest's article links go through a signed redirect, /r/<token>.

The token carries the target itself (the stored article URL of that digest item, as rendered)
so the redirect works without the database, and it is signed so it can never lead anywhere
else: no open redirect. The database is only used to count (see editions.click_counts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from mailer.core.config import Settings
from mailer.readers.tokens import TokenInvalid, make_token, read_token

KINDS = {"s": "story", "r": "related"}
CODES = {name: code for code, name in KINDS.items()}
# The status a digest has while the engine renders it for sending. Rendered in any other state
# (desk preview, test send, CLI preview) its links still redirect but are never counted.
COUNTED_STATUS = "sending"

Tracker = Callable[[str, str, int], str]


@dataclass(frozen=True)
class ClickTarget:
    """What a genuine click token says: which digest link, where it leads, whether it counts."""

    digest_id: int
    kind: str  # story | related
    item_id: int
    url: str
    counted: bool


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def safe_target(url: str, host: str) -> bool:
    """An http(s) URL on the host it had at render time, with no credentials or odd bytes."""
    if not isinstance(url, str) or any(c in url for c in "\\\r\n\t ") or not url.isprintable():
        return False
    parts = urlsplit(url)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and parts.username is None
        and parts.password is None
        and (parts.hostname or "").lower() == host
    )


def click_token(
    secret: str, digest_id: int, kind: str, item_id: int, url: str, counted: bool
) -> str:
    payload = {
        "d": digest_id,
        "k": CODES[kind],
        "i": item_id,
        "u": url,
        "h": _host(url),
        "c": 1 if counted else 0,
    }
    return make_token(secret, "click", payload)


def read_click(secret: str, token: str) -> ClickTarget:
    """The target of a genuine token; TokenInvalid when tampered or not one of ours."""
    payload = read_token(secret, "click", token)
    digest_id, code, item_id = payload.get("d"), payload.get("k"), payload.get("i")
    url, host = payload.get("u"), payload.get("h")
    if not (
        isinstance(digest_id, int)
        and isinstance(item_id, int)
        and code in KINDS
        and isinstance(host, str)
        and safe_target(url, host)
    ):
        raise TokenInvalid("invalid")
    return ClickTarget(digest_id, KINDS[code], item_id, url, bool(payload.get("c")))


def redirect_base(settings: Settings) -> str:
    return f"{settings.base_url.rstrip('/')}/r/"


def click_url(settings: Settings, token: str, reader_part: str = "") -> str:
    """The redirect link; `reader_part` (per_reader mode) is the per-recipient marker that
    personalising replaces with the reader's token, or with nothing."""
    url = redirect_base(settings) + token
    return f"{url}?r={reader_part}" if reader_part else url


def reader_token(settings: Settings, delivery_id: int | None) -> str:
    """Which message a per_reader click came from: its delivery, whose row names the reader.
    Empty in the other modes and for messages with no delivery (previews, test sends)."""
    if settings.click_tracking != "per_reader" or not delivery_id:
        return ""
    return make_token(settings.secret_key, "click_reader", {"v": delivery_id})


def read_reader(secret: str, token: str) -> int | None:
    """The delivery id in a reader token, or None when it is absent, damaged or not ours."""
    if not token:
        return None
    try:
        delivery_id = read_token(secret, "click_reader", token).get("v")
    except TokenInvalid:
        return None
    return delivery_id if isinstance(delivery_id, int) and delivery_id > 0 else None


def tracker(settings: Settings, digest, web: bool, reader_part: str = "") -> Tracker | None:
    """How a rendered issue's links are made; None means they go straight to the site
    (tracking off, the public web version, or an issue not stored yet). In per_reader mode
    `reader_part` is the marker each recipient's reader token replaces."""
    if settings.click_tracking == "off" or web or getattr(digest, "id", None) is None:
        return None
    counted = digest.status == COUNTED_STATUS
    reader = reader_part if settings.click_tracking == "per_reader" else ""

    def track(url: str, kind: str, item_id: int) -> str:
        if not url or item_id is None:
            return url
        token = click_token(settings.secret_key, digest.id, kind, item_id, url, counted)
        return click_url(settings, token, reader)

    return track
