"""A digest as a sample reader would get it: the desk's preview, `digest preview` and test sends."""

from __future__ import annotations

from datetime import datetime

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.models import Digest
from mailer.delivery.compose import Recipient, digest_message
from mailer.delivery.ledger import enqueue_outbox
from mailer.delivery.transports.base import Message
from mailer.editions.audit import audit
from mailer.editions.previews import preview_url
from mailer.editions.render import render_digest
from mailer.readers.links import SAMPLE_ID, SAMPLE_NONCE, new_message_id
from mailer.readers.newsletters import identity


def sample_message(
    digest: Digest,
    settings: Settings,
    recipient: str = "reader@example.com",
    name: str = "Sam",
    now: datetime | None = None,
) -> Message:
    """The exact message a reader gets, addressed to a sample reader: its preferences and
    unsubscribe links open a page that explains them, and with `now` its "View in browser"
    opens a signed preview, which works before the issue is in the archive."""
    sample = Recipient(id=SAMPLE_ID, email=recipient, first_name=name, token_nonce=SAMPLE_NONCE)
    web_url = preview_url(settings, digest.id, now) if now is not None else None
    rendered = render_digest(digest, settings, web_url)
    newsletter = identity(digest.newsletter, settings)
    message_id = new_message_id(settings)
    return digest_message(
        rendered, sample, settings, message_id, digest.period_key, newsletter=newsletter
    )


def queue_test_sends(
    db: Database,
    settings: Settings,
    digest: Digest,
    addresses: list[str],
    actor: str,
    now: datetime,
) -> None:
    """Queue the exact message to a few addresses; the outbox sends it within a minute."""
    for address in addresses:
        message = sample_message(digest, settings, address, name="", now=now)
        enqueue_outbox(
            db,
            kind="test",
            recipient=address,
            subject=f"[TEST] {message.subject}",
            text=message.text,
            html=message.html,
            headers=dict(message.headers),
            message_id=message.message_id,
            now=now,
        )
    with db.session() as session:
        audit(session, actor, "send test", digest, now, {"to": addresses})
