"""One URL per article: tracking parameters and fragments removed, host lowercased."""

from __future__ import annotations

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


def canonical_url(url: str) -> str:
    """The article's address without what only says how a reader got there."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    netloc = host if port in (None, 80 if scheme == "http" else 443) else f"{host}:{port}"
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking(k)
    ]
    path = parts.path.replace("\\", "/") or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def is_http(url: str | None) -> bool:
    if not url:
        return False
    parts = urlsplit(url.strip())
    return parts.scheme in ("http", "https") and bool(parts.hostname)
