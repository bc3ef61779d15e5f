"""Signed, expiring, purpose-bound tokens for links in mail; no address is ever inside one."""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

# One salt per purpose: a token made for one link never opens another.
PURPOSES = ("confirm", "unsubscribe", "preferences")


class TokenInvalid(ValueError):
    """Tampered, malformed or made for another purpose."""


class TokenExpired(TokenInvalid):
    """Genuine but too old; the payload is kept so a fresh link can be offered."""

    def __init__(self, payload: dict[str, Any] | None) -> None:
        super().__init__("expired")
        self.payload = payload


def _serializer(secret: str, purpose: str) -> URLSafeTimedSerializer:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    return URLSafeTimedSerializer(secret, salt=f"mailer.{purpose}")


def make_token(secret: str, purpose: str, payload: dict[str, Any]) -> str:
    return _serializer(secret, purpose).dumps(payload)


def read_token(
    secret: str, purpose: str, token: str, max_age_seconds: int | None = None
) -> dict[str, Any]:
    """The payload of a genuine token; raises TokenExpired or TokenInvalid otherwise."""
    serializer = _serializer(secret, purpose)
    try:
        payload = serializer.loads(token, max_age=max_age_seconds)
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
