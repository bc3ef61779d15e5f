"""Provider click and open events (webhooks) counted against the digest link they are about."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.core.config import Settings
from mailer.core.models import DigestItem, DigestRelated
from mailer.editions.clicks.counts import LinkKey, add_count, add_reader_click, delivery_moment
from mailer.editions.clicks.links import redirect_base
from mailer.editions.clicks.machines import machine_reason


def strip_tracking(url: str) -> str:
    """A link without utm_* parameters or fragment, to compare a reported URL with a stored one."""
    parts = urlsplit(url.strip())
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_")
    ]
    host = (parts.hostname or "").lower()
    netloc = host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", urlencode(query), ""))


def item_of_url(session: Session, digest_id: int, url: str) -> tuple[str, int] | None:
    """(kind, id) of the story or related link of this digest that a URL leads to, else None."""
    wanted = strip_tracking(url)
    for item_id, stored in session.execute(
        select(DigestItem.id, DigestItem.url).where(DigestItem.digest_id == digest_id)
    ):
        if strip_tracking(stored) == wanted:
            return "story", item_id
    for rel_id, stored in session.execute(
        select(DigestRelated.id, DigestRelated.url)
        .join(DigestItem, DigestItem.id == DigestRelated.item_id)
        .where(DigestItem.digest_id == digest_id)
    ):
        if strip_tracking(stored) == wanted:
            return "related", rel_id
    return None


@dataclass(frozen=True)
class ProviderRules:
    """What counting a provider's click or open needs from the settings."""

    redirect_base: str  # our own click links start with this
    scanner_seconds: int
    extra_agents: tuple[str, ...]
    zone: tzinfo
    per_reader: bool

    @classmethod
    def of(cls, settings: Settings) -> ProviderRules:
        return cls(
            redirect_base=redirect_base(settings),
            scanner_seconds=settings.click_scanner_seconds,
            extra_agents=settings.click_scanner_agents,
            zone=settings.zone,
            per_reader=settings.click_tracking == "per_reader",
        )


def count_provider_event(
    session: Session,
    rules: ProviderRules,
    *,
    provider: str,
    kind: str,
    url: str,
    user_agent: str,
    at: datetime,
    delivery_id: int | None,
) -> str:
    """Count a provider's click or open against the digest link it was about; says what it did
    (counted, machine reason, ours, untied) so a test or log can tell."""
    if delivery_id is None:
        return "untied"  # not a digest message we can name: a test send, another mailer
    if kind == "click" and url.startswith(rules.redirect_base):
        return "ours"  # our redirect counted it already, on the way through
    found = delivery_moment(session, delivery_id)
    if found is None:
        return "untied"
    digest_id, handed_at, subscriber_id = found
    if kind == "open":
        item = ("open", 0)
    else:
        item = item_of_url(session, digest_id, url) if url else None
        if item is None:
            return "untied"  # a link that is not one of the articles
    seconds = (at - handed_at).total_seconds() if handed_at else None
    reason = None
    if kind == "click":
        reason = machine_reason(
            method="GET",
            user_agent=user_agent,
            seconds_after_delivery=seconds,
            scanner_seconds=rules.scanner_seconds,
            extra_agents=rules.extra_agents,
        )
    key = LinkKey(digest_id, item[0], item[1], at.astimezone(rules.zone).date(), provider)
    add_count(session, key, reason)
    if rules.per_reader and reason is None and kind == "click":
        add_reader_click(session, key, subscriber_id, at)
    return reason or "counted"
