"""Signed, purpose-bound tokens for links in mail; no address is ever inside one."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)

# One salt per purpose: a token made for one link never opens another. Confirm links carry the
# time they were made (they expire in hours), and so do unsubscribe and preferences links: they
# work for MAILER_UNSUBSCRIBE_LINK_DAYS after the mail, then offer fresh links by mail; a new
# nonce (on confirmation, on erasure) also revokes a preferences link. Data links (download or
# erase, mailed on request) expire in an hour. Click links (editions.clicks) carry no time: a
# link in an old issue still leads on.
PURPOSES = {
    "confirm": True,
    "unsubscribe": True,
    "preferences": True,
    "data": True,
    "click": False,
    "click_reader": False,
    "preview": True,  # a draft's web version for those who got a test mail (editions.previews)
}


class TokenInvalid(ValueError):
    """Tampered, malformed or made for another purpose."""


class TokenExpired(TokenInvalid):
    """Genuine but too old; the payload is kept so a fresh link can be offered."""

    def __init__(self, payload: dict[str, Any] | None) -> None:
        super().__init__("expired")
        self.payload = payload


def _serializer(
    secret: str, purpose: str, now: datetime | None = None
) -> URLSafeSerializer | URLSafeTimedSerializer:
    """`now` pins the signer's clock, so ages follow the caller's time (and tests' fixed time)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return _built_serializer(secret, purpose, None if now is None else int(now.timestamp()))


@functools.lru_cache(maxsize=64)
def _built_serializer(
    secret: str, purpose: str, stamp: int | None
) -> URLSafeSerializer | URLSafeTimedSerializer:
    """Cached: a send makes two tokens a message, and building a serializer costs more than
    using it (a stamped one only for the second it stands for)."""
    if not PURPOSES[purpose]:
        return URLSafeSerializer(secret, salt=f"mailer.{purpose}")
    if stamp is None:
        return URLSafeTimedSerializer(secret, salt=f"mailer.{purpose}")

    class _SignerAt(TimestampSigner):
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(secret, salt=f"mailer.{purpose}", signer=_SignerAt)


def read_untimed(secret: str, purpose: str, token: str) -> dict[str, Any]:
    """An untimed token of a timed purpose, as unsubscribe links were made before they carried
    a time; the caller decides what such a token may still do."""
    try:
        payload = URLSafeSerializer(secret, salt=f"mailer.{purpose}").loads(token)
    except BadSignature:
        raise TokenInvalid("invalid") from None
    if not isinstance(payload, dict):
        raise TokenInvalid("invalid")
    return payload


def make_token(
    secret: str, purpose: str, payload: dict[str, Any], now: datetime | None = None
) -> str:
    return _serializer(secret, purpose, now).dumps(payload)


def read_token(
    secret: str,
    purpose: str,
    token: str,
    max_age_seconds: int | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The payload of a genuine token; raises TokenExpired or TokenInvalid otherwise."""
    serializer = _serializer(secret, purpose, now)
    try:
        if PURPOSES[purpose]:
            payload = serializer.loads(token, max_age=max_age_seconds)
        else:
            payload = serializer.loads(token)
    except SignatureExpired as exc:
        payload = None
        if exc.payload is not None:
            try:
                payload = serializer.load_payload(exc.payload)
            except BadSignature:
                payload = None
        raise TokenExpired(payload) from None
    except BadSignature:
        raise TokenInvalid("invalid") from None
    if not isinstance(payload, dict):
        raise TokenInvalid("invalid")
    return payload
