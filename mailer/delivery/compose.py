"""Turn a rendered digest into one subscriber's message, with the headers bulk mail needs."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from mailer.core.config import Settings
from mailer.delivery.transports.base import Message
from mailer.delivery.transports.mime import PreparedBody
from mailer.delivery.verp import return_path
from mailer.editions.clicks.links import reader_token
from mailer.editions.render import PLACEHOLDERS, RenderedDigest, fill, greeting, marker
from mailer.readers.links import preferences_url, sender_domain, unsubscribe_links
from mailer.readers.newsletters import Identity


@dataclass(frozen=True)
class Recipient:
    """What a message needs to know of a subscriber."""

    id: int
    email: str
    first_name: str | None
    token_nonce: str
    language: str | None = None  # None: the site's default


def list_id(settings: Settings) -> str:
    return f"{settings.list_name} <digest.{sender_domain(settings)}>"


def digest_message(
    rendered: RenderedDigest,
    recipient: Recipient,
    settings: Settings,
    message_id: str,
    period_key: str,
    delivery_id: int | None = None,
    issued: datetime | None = None,
    batch_form: bool = False,
    newsletter: Identity | None = None,
    mime: bool = True,
    bytes_only: bool = False,
) -> Message:
    """One personalised message; no Jinja here, only substitution into the rendered issue.
    `issued` (the send time) stamps the unsubscribe link, whose validity counts from it.
    `batch_form`: leave the markers in and hand the reader's values beside them, for a
    transport that places them with its provider's own personalisation (Message.markers).
    `newsletter`: the digest's List-Id, From, and the newsletter its unsubscribe link leaves.
    `mime`: prepare the encoded MIME body (for transports that send our bytes).
    `bytes_only`: the transport sends as_bytes() alone, so when the body is prepared the text
    and HTML stay in the batch form (filled only if someone asks: Message.filled) instead of
    being filled for every reader only to go unread."""
    nid = newsletter.newsletter_id if newsletter else None
    unsubscribe, mailto = unsubscribe_links(
        settings, recipient.id, recipient.token_nonce, issued, nid
    )
    values = {
        "unsubscribe_url": unsubscribe,
        "preferences_url": preferences_url(settings, recipient.id, recipient.token_nonce, issued),
        "first_name": recipient.first_name or "",
        "greeting": greeting(recipient.first_name, rendered.language),
        "click_reader": reader_token(settings, delivery_id),
    }
    body = None
    if batch_form:
        subject, text, html = rendered.subject, rendered.text, rendered.html
        markers, values = rendered.markers, {n: values[n] for n in rendered.markers}
    else:
        if mime and not any("\r" in value or "\n" in value for value in values.values()):
            body = prepared_body(rendered).render(values)
        if body is not None and bytes_only:
            subject, text, html = rendered.subject, rendered.text, rendered.html
            markers, values = rendered.markers, {n: values[n] for n in rendered.markers}
            subject = fill(subject, "", None, markers, values)[0]
        else:
            subject, text, html = rendered.personalise(values)
            markers, values = {}, {}
    headers = {
        "List-Id": newsletter.list_id if newsletter else list_id(settings),
        "List-Unsubscribe": f"<{unsubscribe}>, <{mailto}>" if mailto else f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Feedback-ID": f"{period_key}:digest:{sender_domain(settings)}",
        "Precedence": "bulk",
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "OOF, AutoReply",
    }
    metadata = {"period": period_key}
    if delivery_id is not None:
        metadata["delivery_id"] = str(delivery_id)
    return Message(
        sender=newsletter.sender if newsletter else settings.from_addr,
        recipient=recipient.email,
        subject=subject,
        text=text,
        html=html,
        message_id=message_id,
        reply_to=settings.reply_to,
        headers=headers,
        metadata=metadata,
        markers=markers,
        values=values,
        return_path=return_path(settings, delivery_id),
        mime_body=body,
    )


@functools.lru_cache(maxsize=4)
def prepared_body(rendered: RenderedDigest) -> PreparedBody:
    """The issue's parts encoded once, for every reader of the send (a cache: a send builds
    thousands of messages from one rendered digest)."""
    markers = {name: marker(name, rendered.nonce) for name in PLACEHOLDERS}
    return PreparedBody(rendered.text, rendered.html, markers)
