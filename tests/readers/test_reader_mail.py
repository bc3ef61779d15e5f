"""The mail readers get outside the digest, as outbox rows."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from mailer.core.templates import environment
from mailer.readers import links, reader_mail


def full_render(settings, sid, nonce, now, name) -> tuple[str, str, str]:
    """The confirmation rendered the plain way: every template, the real link, this second."""
    context = reader_mail._common(settings) | {
        "confirm_url": links.confirm_url(settings, sid, nonce, now, name),
        "hours": settings.confirm_hours,
        "expires": (now + timedelta(hours=settings.confirm_hours)).astimezone(settings.zone),
    }
    env = environment()
    subject, text, html = (
        env.get_template(f"email/confirm/{part}").render(context)
        for part in ("subject.txt", "body.txt", "body.html")
    )
    return " ".join(subject.split()), text, html


def test_a_confirmation_rendered_once_a_minute_is_the_plain_render(settings, now):
    """Rendered once for the minute with a mark where the link goes: each row is byte for byte
    what rendering its own templates gives, the link escaped in HTML as Jinja escapes it."""
    odd = dataclasses.replace(settings, base_url="https://news.example.com/a&b<c>")
    for when, sid, name in ((now, 7, "Ann"), (now + timedelta(seconds=41), 8, None)):
        row = reader_mail.confirmation_values(odd, sid, "a@example.com", "n" * 32, when, name)
        assert (row["subject"], row["text"], row["html"]) == full_render(
            odd, sid, "n" * 32, when, name
        )
        assert reader_mail.URL_MARK not in row["text"] + row["html"]
        assert "/a&amp;b&lt;c&gt;/confirm/" in row["html"] and "/a&b<c>/confirm/" in row["text"]
    first = reader_mail.confirmation_values(odd, 7, "a@example.com", "n" * 32, now, "Ann")
    second = reader_mail.confirmation_values(odd, 7, "a@example.com", "m" * 32, now, "Ann")
    assert first["text"] != second["text"]  # the link is each reader's own
    assert first["message_id"] != second["message_id"]
