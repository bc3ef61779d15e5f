"""What every DSN setting shares: a scheme we know, a port that is a number, loopback hosts."""

from __future__ import annotations

from collections.abc import Collection
from ipaddress import ip_address
from urllib.parse import SplitResult, urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


def split_dsn(text: str, known: Collection[str], noun: str = "scheme") -> SplitResult:
    """The DSN's parts, once its scheme is one of `known` and its port a number."""
    if "://" not in text:
        raise ValueError("no scheme")
    parts = urlsplit(text.strip())
    if parts.scheme.lower() not in known:
        raise ValueError(f"unknown {noun} {parts.scheme.lower()!r}")
    try:
        parts.port  # noqa: B018  (urllib checks the port only when asked)
    except ValueError:
        raise ValueError("the port is not a number") from None
    return parts


def is_loopback(host: str) -> bool:
    """Loopback hosts may go without TLS (tests and local relays); nothing else may."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False
