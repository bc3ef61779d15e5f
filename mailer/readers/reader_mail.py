"""The mail a reader gets outside the digest (confirmation, 'your links', welcome, data link),
each built from templates/email/<kind>/ as the outbox row the delivery engine sends."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from markupsafe import escape

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


# Stands in for the confirm link while a confirmation is rendered once for every signup in the
# same minute; never in a sent mail (the real link replaces it, escaped as Jinja would).
URL_MARK = "\x00confirm-url\x00"


def confirmation_values(
    settings: Settings,
    subscriber_id: int,
    email: str,
    nonce: str,
    now: datetime,
    first_name: str | None = None,
    language: str | None = None,
    newsletters: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The outbox row for a confirmation mail: its text names nothing the visitor typed (the
    name and the newsletters chosen are inside the signed link only). In the signup's
    language, as its page opens. Every signup renders it, so the three templates are rendered
    once a minute per language (the expiry is shown to the minute) and the link put in after."""
    lang = reader_language(settings, language)
    expires = now + timedelta(hours=settings.confirm_hours)
    minute = expires.replace(second=0, microsecond=0)
    subject, text, html = _confirmation_text(settings, minute, lang)
    url = links.confirm_url(settings, subscriber_id, nonce, now, first_name, newsletters)
    if lang != settings.default_language:
        url = f"{url}?lang={lang}"
    rendered = (subject, text.replace(URL_MARK, url), html.replace(URL_MARK, str(escape(url))))
    return outbox_row(settings, "confirm", {}, subscriber_id, email, now, lang, rendered=rendered)


_confirmations: dict[tuple[int, datetime, str], tuple[Settings, tuple[str, str, str]]] = {}


def _confirmation_text(
    settings: Settings, expires: datetime, language: str
) -> tuple[str, str, str]:
    """Subject, text and HTML with URL_MARK where the link goes, kept for the minute (keyed by
    the settings object itself: hashing every setting would cost more than it saves)."""
    key = (id(settings), expires, language)
    kept = _confirmations.get(key)
    if kept is not None and kept[0] is settings:
        return kept[1]
    context = _common(settings) | {
        "confirm_url": URL_MARK,
        "hours": settings.confirm_hours,
        "expires": expires.astimezone(settings.zone),
    }
    env = environment(language=language)
    subject, text, html = (
        env.get_template(f"email/confirm/{part}").render(context)
        for part in ("subject.txt", "body.txt", "body.html")
    )
    parts = (subject, text, html)
    if URL_MARK not in parts[1] or URL_MARK not in parts[2]:
        raise RuntimeError("the confirmation templates must show {{ confirm_url }} as it is")
    if len(_confirmations) >= 8:
        _confirmations.clear()
    _confirmations[key] = (settings, parts)
    return parts


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
    *,
    rendered: tuple[str, str, str] | None = None,
) -> dict[str, Any]:
    """A reader's mail from templates/email/<kind>/ in their language (or its subject, text and
    HTML rendered already), as the outbox row that sends it."""
    if rendered is None:
        env = environment(language=reader_language(settings, language))
        rendered = tuple(
            env.get_template(f"email/{kind}/{part}").render(context)
            for part in ("subject.txt", "body.txt", "body.html")
        )
    subject, text, html = rendered
    return {
        "kind": kind,
        "subscriber_id": subscriber_id,
        "recipient": email,
        "subject": " ".join(subject.split()),
        "text": text,
        "html": html,
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
