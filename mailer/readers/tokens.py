"""Signed, purpose-bound tokens for links in mail; no address is ever inside one."""

from __future__ import annotations

import binascii
import functools
import hashlib
import hmac
import json
import struct
import time
import zlib
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
    """Cached: building a serializer costs more than using it (a stamped one only for the
    second it stands for)."""
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


# Payloads shorter than this are never compressed: deflate's set-up costs more than the whole
# token, and a short payload rarely shrinks. The reader accepts either form.
COMPRESS_FROM = 64
_STAMP = struct.Struct(">Q")


@functools.lru_cache(maxsize=64)
def _signing_key(secret: str, purpose: str) -> bytes:
    """itsdangerous' derived key (django-concat, SHA-1) for this purpose's salt."""
    salted = f"mailer.{purpose}".encode() + b"signer" + secret.encode()
    return hashlib.sha1(salted).digest()  # noqa: S324 (the format's key derivation, under HMAC)


# json.dumps(payload, ensure_ascii=False, separators=(",", ":")) without building an encoder
# for every token, and URL-safe base64 without base64's wrappers: a send makes thousands
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).translate(_URL_SAFE).rstrip(b"=")


def make_token(
    secret: str, purpose: str, payload: dict[str, Any], now: datetime | None = None
) -> str:
    """A token in itsdangerous' URL-safe format, read by `read_token` (itsdangerous), made
    here directly: a send makes two a message, and itsdangerous builds a signer and derives
    its key on every call. tests/readers/test_tokens.py pins it to itsdangerous' own output."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    data = _COMPACT.encode(payload).encode()
    body = _b64(data)
    if len(data) >= COMPRESS_FROM:
        packed = zlib.compress(data)
        if len(packed) < len(data) - 1:
            body = b"." + _b64(packed)
    if PURPOSES[purpose]:
        stamp = int(time.time()) if now is None else int(now.timestamp())
        body += b"." + _b64(_STAMP.pack(stamp).lstrip(b"\x00"))
    signature = hmac.digest(_signing_key(secret, purpose), body, "sha1")
    return (body + b"." + _b64(signature)).decode()


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
