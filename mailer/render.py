"""Render a digest once; personalise each message by substitution, never by re-running Jinja."""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass

# The per-recipient values every rendered digest may carry, as literal markers.
PLACEHOLDERS = ("unsubscribe_url", "preferences_url", "first_name")


def marker(name: str) -> str:
    return f"%%{name.upper()}%%"


@dataclass(frozen=True)
class RenderedDigest:
    """One digest's subject, preheader, HTML and text with markers where per-recipient values go."""

    subject: str
    preheader: str
    html: str
    text: str
    web_url: str = ""

    def personalise(self, values: Mapping[str, str]) -> tuple[str, str, str]:
        """(subject, text, html) for one recipient; values are HTML-escaped in the HTML part."""
        subject, text, body = self.subject, self.text, self.html
        for name in PLACEHOLDERS:
            value = values.get(name, "")
            key = marker(name)
            subject = subject.replace(key, value)
            text = text.replace(key, value)
            body = body.replace(key, html.escape(value, quote=True))
        return subject, text, body
