"""Signed links to a digest's web version before it is in the archive, for test mail."""

from __future__ import annotations

from datetime import datetime

from mailer.core.config import Settings
from mailer.readers.links import link
from mailer.readers.tokens import TokenInvalid, make_token, read_token

PREVIEW_DAYS = 30  # a test mail's "View in browser" works this long, whatever the state


def preview_url(settings: Settings, digest_id: int, now: datetime | None = None) -> str:
    token = make_token(settings.secret_key, "preview", {"d": digest_id}, now)
    return link(settings, f"/preview/{token}")


def preview_digest_id(settings: Settings, token: str, now: datetime) -> int | None:
    """The digest a preview link names, or None for a forged, mangled or expired one."""
    try:
        payload = read_token(settings.secret_key, "preview", token, PREVIEW_DAYS * 86400, now)
    except TokenInvalid:
        return None
    digest_id = payload.get("d")
    return digest_id if isinstance(digest_id, int) else None
