"""The mail a reader gets outside the digest (confirmation, 'your links', welcome, data link),
each built from templates/email/<kind>/ as the outbox row the delivery engine sends."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from mailer.core import i18n
from mailer.core.config import Settings
from mailer.core.templates import environment
from mailer.readers import links


def _common(settings: Settings) -> dict[str, Any]:
    return {
        "list_name": settings.list_name,
        "site_name": settings.site_name,
        "frequency": settings.list_frequency,
        "base_url": settings.base_url,
    }


def reader_language(settings: Settings, language: str | None) -> str:
    """The reader's language if it is still offered, else the site's default."""
    return i18n.pick(language, settings.languages, settings.default_language)


def confirmation_values(
    settings: Settings,
    subscriber_id: int,
    email: str,
    nonce: str,
    now: datetime,
    first_name: str | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """The outbox row for a confirmation mail: its text names nothing the visitor typed (the
    name is inside the signed link only). In the signup's language, as its page opens."""
    lang = reader_language(settings, language)
    url = links.confirm_url(settings, subscriber_id, nonce, now, first_name)
    context = _common(settings) | {
        "confirm_url": url if lang == settings.default_language else f"{url}?lang={lang}",
        "hours": settings.confirm_hours,
        "expires": (now + timedelta(hours=settings.confirm_hours)).astimezone(settings.zone),
    }
    return outbox_row(settings, "confirm", context, subscriber_id, email, now, lang)


def links_values(
    settings: Settings,
    subscriber_id: int,
    email: str,
    nonce: str,
    now: datetime,
    language: str | None = None,
) -> dict[str, Any]:
    """The outbox row for a 'your links' mail: a fresh unsubscribe link and the preferences."""
    context = _common(settings) | {
        "unsubscribe_url": links.unsubscribe_url(settings, subscriber_id, nonce, now),
        "preferences_url": links.preferences_url(settings, subscriber_id, nonce, now),
        "days": settings.unsubscribe_link_days,
    }
    return outbox_row(settings, "links", context, subscriber_id, email, now, language)


def welcome_values(
    settings: Settings,
    subscriber_id: int,
    email: str,
    nonce: str,
    now: datetime,
    first_name: str | None = None,
    language: str | None = None,
) -> dict[str, Any]:
    """The outbox row for the welcome mail sent once the owner has confirmed: what to expect,
    where past issues are, how to change or stop it. The name was confirmed by its owner, so
    the body may greet them by it; the subject never carries it."""
    context = _common(settings) | {
        "first_name": first_name or "",
        "sender": links.sender_address(settings),
        "archive_url": links.link(settings, "/archive"),
        "unsubscribe_url": links.unsubscribe_url(settings, subscriber_id, nonce, now),
        "preferences_url": links.preferences_url(settings, subscriber_id, nonce, now),
    }
    return outbox_row(settings, "welcome", context, subscriber_id, email, now, language)


def data_link_values(
    settings: Settings,
    subscriber_id: int,
    email: str,
    nonce: str,
    now: datetime,
    minutes: int,
    language: str | None = None,
) -> dict[str, Any]:
    """The outbox row for the mail that carries a reader's one-hour data link."""
    context = _common(settings) | {
        "data_url": links.data_url(settings, subscriber_id, nonce, now),
        "minutes": minutes,
    }
    return outbox_row(settings, "data", context, subscriber_id, email, now, language)


def outbox_row(
    settings: Settings,
    kind: str,
    context: dict[str, Any],
    subscriber_id: int,
    email: str,
    now: datetime,
    language: str | None = None,
) -> dict[str, Any]:
    """A reader's mail from templates/email/<kind>/ in their language, as the outbox row."""
    env = environment(language=reader_language(settings, language))
    subject = env.get_template(f"email/{kind}/subject.txt").render(context)
    return {
        "kind": kind,
        "subscriber_id": subscriber_id,
        "recipient": email,
        "subject": " ".join(subject.split()),
        "text": env.get_template(f"email/{kind}/body.txt").render(context),
        "html": env.get_template(f"email/{kind}/body.html").render(context),
        "headers": {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
        "message_id": links.new_message_id(settings),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def reader_context(settings: Settings) -> dict[str, Any]:
    """What every reader mail's template may use: list, site, frequency, base URL."""
    return _common(settings)
