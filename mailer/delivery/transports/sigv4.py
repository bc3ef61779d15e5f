"""AWS Signature Version 4 for one JSON POST, written out so no AWS SDK is needed."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote, urlsplit


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def signing_key(secret: str, day: str, region: str, service: str) -> bytes:
    key = _hmac(("AWS4" + secret).encode(), day)
    key = _hmac(key, region)
    key = _hmac(key, service)
    return _hmac(key, "aws4_request")


def canonical_request(
    method: str, url: str, headers: dict[str, str], body: bytes
) -> tuple[str, str]:
    """(canonical request, signed header names) as SigV4 defines them."""
    parts = urlsplit(url)
    path = quote(parts.path or "/", safe="/-_.~")
    query = "&".join(
        sorted(
            f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
            for k, _, v in (p.partition("=") for p in parts.query.split("&") if p)
        )
    )
    lowered = {k.lower(): " ".join(v.strip().split()) for k, v in headers.items()}
    names = sorted(lowered)
    header_lines = "".join(f"{n}:{lowered[n]}\n" for n in names)
    signed = ";".join(names)
    payload_hash = hashlib.sha256(body).hexdigest()
    return f"{method}\n{path}\n{query}\n{header_lines}\n{signed}\n{payload_hash}", signed


def sign(
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes,
    *,
    key_id: str,
    secret: str,
    region: str,
    service: str,
    now: datetime,
) -> dict[str, str]:
    """Headers to send: the given ones plus Host, X-Amz-Date and Authorization."""
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    day = stamp[:8]
    signed_headers = {**headers, "Host": urlsplit(url).netloc, "X-Amz-Date": stamp}
    request, names = canonical_request(method, url, signed_headers, body)
    scope = f"{day}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(request.encode()).hexdigest()]
    )
    signature = hmac.new(
        signing_key(secret, day, region, service), to_sign.encode(), hashlib.sha256
    ).hexdigest()
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, "
        f"SignedHeaders={names}, Signature={signature}"
    )
    return {**signed_headers, "Authorization": authorization}
