"""Which saved segment an issue goes to: chosen before sending starts, recorded in the audit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from mailer.core.db import Database
from mailer.core.errors import Conflict, NotFound
from mailer.core.models import Digest
from mailer.editions.audit import audit
from mailer.readers.segments import describe, find_segment

TARGETABLE = ("draft", "approved")


def target_segment(
    db: Database, digest_id: int, segment: str | int | None, actor: str, now: datetime
) -> str:
    """Point an issue at a segment (None: every reader); only before sending starts, since the
    readers are chosen when it does. Says what it did."""
    view = find_segment(db, segment) if segment not in (None, "") else None
    with db.session() as session:
        digest = session.scalar(select(Digest).where(Digest.id == digest_id).with_for_update())
        if digest is None:
            raise NotFound("no such digest.")
        if digest.status not in TARGETABLE:
            raise Conflict(
                f"{digest.period_key} is {digest.status}: its readers were chosen when sending "
                "started."
            )
        new_id = view.id if view else None
        if digest.segment_id == new_id:
            return f"{digest.period_key} already goes to {view.slug if view else 'every reader'}."
        digest.segment_id = new_id
        digest.updated_at = now
        detail = {"segment": view.slug, "rules": view.rules} if view else {"segment": None}
        audit(session, actor, "target", digest, now, detail)
        if view:
            return f"{digest.period_key} now goes to {view.name} ({describe(view.rules)})."
        return f"{digest.period_key} now goes to every reader."
