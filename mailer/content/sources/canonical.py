"""One URL per article: tracking parameters and fragments removed, host lowercased."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "_hsenc",
        "_hsmi",
        "ref",
        "ref_src",
        "cmpid",
        "icid",
        "ncid",
        "sr_share",
        "ocid",
        "track",
        "rss",
        "cmp",
        "xtor",
        "at_medium",
        "at_campaign",
        "spm",
        "s_cid",
        "ito",
        "partner",
        "feedtype",
    }
)


def is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered.startswith(("utm_", "at_", "pk_", "mtm_")) or lowered in TRACKING


_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _path_escape(match: re.Match[str]) -> str:
    """%2f and %2F are one slash, %7E is '~': one spelling for each escaped path character."""
    char = chr(int(match.group(1), 16))
    if char == "/" or char in _UNRESERVED:
        return char
    return f"%{match.group(1).upper()}"


def canonical_url(url: str) -> str:
    """The article's address without what only says how a reader got there."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:  # a bad port or IPv6 literal: it can only ever match itself
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    netloc = host if port in (None, 80 if scheme == "http" else 443) else f"{host}:{port}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking(k)
    ]
    path = _ESCAPE.sub(_path_escape, parts.path.replace("\\", "/")) or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def is_http(url: str | None) -> bool:
    """An http(s) URL with a host and, if any, a valid port; never raises on hostile text."""
    if not url:
        return False
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 -- raises ValueError for a port out of range
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)
