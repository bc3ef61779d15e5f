"""Sunsetting quiet readers: one re-engagement mail after N issues without a click, then a
pause (never a deletion) after a few more, undone from the reader's preferences.

Only clicks on digest links count (opens never: privacy proxies open mail), and only issues
whose per-reader clicks are known: an issue nobody has a recorded click on (sent before
per-reader counting, or with it off) is not held against anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.models import (
    Delivery,
    Digest,
    OutboxMessage,
    ReaderClick,
    ReaderSunset,
    Subscriber,
    Suppression,
)
from mailer.readers import links
from mailer.readers.reader_mail import outbox_row, reader_context
from mailer.readers.segments import CLICK_KINDS


@dataclass(frozen=True)
class SunsetCounts:
    """How many readers a run would mail (or did), and how many it would pause (or did)."""

    mail: int
    pause: int
    ready: bool  # per-reader clicks are on, so anyone can be judged
    on: bool  # MAILER_SUNSET


def _click_rows():
    return ReaderClick.kind.in_(CLICK_KINDS), ReaderClick.clicks > 0


def known_issues(session) -> list[int]:
    """Issues with per-reader clicks recorded: the only ones held against a quiet reader. Read
    first, from the few digests, so the per-reader counts below compare against a short list."""
    clicked = select(ReaderClick.digest_id).where(
        ReaderClick.digest_id == Digest.id, *_click_rows()
    )
    return list(session.scalars(select(Digest.id).where(clicked.exists())))


def _candidates(
    settings: Settings, known: list[int], only: int | None = None
) -> tuple[Select, Select]:
    """(who is due the re-engagement mail, who is due a pause), as SELECTs of subscriber ids,
    each one pass of joins and a GROUP BY (`only`: just this reader, for the re-check)."""
    last = select(
        ReaderClick.subscriber_id.label("sid"), func.max(ReaderClick.last_at).label("at")
    ).where(*_click_rows())
    if only is not None:
        last = last.where(ReaderClick.subscriber_id == only)
    last = last.group_by(ReaderClick.subscriber_id).subquery("last_clicks")
    suppressed = select(Suppression.id).where(Suppression.email_hash == Subscriber.email_hash)

    def readers(*delivered):
        query = (
            select(Subscriber.id)
            .select_from(Subscriber)
            .outerjoin(ReaderSunset, ReaderSunset.subscriber_id == Subscriber.id)
            .outerjoin(last, last.c.sid == Subscriber.id)
            .join(
                Delivery,
                and_(
                    Delivery.subscriber_id == Subscriber.id,
                    Delivery.status == "sent",
                    Delivery.digest_id.in_(known),
                    # a reader who joined again is judged on the issues since, not before
                    or_(
                        Subscriber.confirmed_at.is_(None),
                        Delivery.sent_at > Subscriber.confirmed_at,
                    ),
                    *delivered,
                ),
            )
            .where(
                Subscriber.status == "confirmed",
                Subscriber.paused.is_(False),
                Subscriber.email.is_not(None),
                ~suppressed.exists(),
            )
        )
        return query.where(Subscriber.id == only) if only is not None else query

    to_mail = (
        readers(
            or_(last.c.at.is_(None), Delivery.sent_at > last.c.at),
            or_(
                ReaderSunset.stage.is_(None),
                ReaderSunset.stage == "mailed",
                Delivery.sent_at > ReaderSunset.at,
            ),
        )
        .where(
            or_(
                ReaderSunset.stage.is_(None),
                ReaderSunset.stage != "mailed",
                last.c.at > ReaderSunset.at,  # clicked since the last mail: a new cycle
            )
        )
        .group_by(Subscriber.id)
        .having(func.count(Delivery.id) >= settings.sunset_after_issues)
    )
    to_pause = (
        readers(Delivery.sent_at > ReaderSunset.at)
        .where(
            ReaderSunset.stage == "mailed",
            or_(last.c.at.is_(None), last.c.at <= ReaderSunset.at),
        )
        .group_by(Subscriber.id)
        .having(func.count(Delivery.id) >= settings.sunset_grace_issues)
    )
    return to_mail.order_by(Subscriber.id), to_pause.order_by(Subscriber.id)


def preview(db: Database, settings: Settings) -> SunsetCounts:
    """How many readers a run now would mail and pause, whether or not sunsetting is on."""
    with db.session() as session:
        to_mail, to_pause = _candidates(settings, known_issues(session))
        mail = session.scalar(select(func.count()).select_from(to_mail.subquery()))
        pause = session.scalar(select(func.count()).select_from(to_pause.subquery()))
    return SunsetCounts(mail, pause, settings.click_tracking == "per_reader", settings.sunset)


def run(db: Database, settings: Settings, now: datetime) -> SunsetCounts:
    """Pause the readers still quiet after their mail, then mail the newly quiet ones; each
    reader is re-checked under a lock, so a repeated or parallel run does nothing twice."""
    with db.session() as session:
        known = known_issues(session)
        to_mail, to_pause = _candidates(settings, known)
        pausing = list(session.scalars(to_pause))
        mailing = list(session.scalars(to_mail))
    paused = sum(_pause_one(db, settings, known, sid, now) for sid in pausing)
    mailed = sum(_mail_one(db, settings, known, sid, now) for sid in mailing)
    return SunsetCounts(mailed, paused, settings.click_tracking == "per_reader", settings.sunset)


def _locked(session, settings: Settings, known: list[int], which: int, sid: int):
    """The reader, locked, if they are still due (which: 0 the mail, 1 the pause)."""
    sub = session.scalar(select(Subscriber).where(Subscriber.id == sid).with_for_update())
    query = _candidates(settings, known, only=sid)[which]
    if sub is None or session.scalar(query) is None:
        return None
    return sub


def _pause_one(db: Database, settings: Settings, known: list[int], sid: int, now) -> int:
    with db.session() as session:
        sub = _locked(session, settings, known, 1, sid)
        if sub is None:
            return 0
        sub.paused, sub.updated_at = True, now
        session.execute(
            update(ReaderSunset)
            .where(ReaderSunset.subscriber_id == sid)
            .values(stage="paused", at=now)
        )
        return 1


def _mail_one(db: Database, settings: Settings, known: list[int], sid: int, now) -> int:
    with db.session() as session:
        sub = _locked(session, settings, known, 0, sid)
        if sub is None:
            return 0
        session.execute(insert(OutboxMessage), reengage_values(settings, sub, now))
        chooser = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        values = {"subscriber_id": sid, "stage": "mailed", "at": now, "mailed_at": now}
        session.execute(
            chooser(ReaderSunset)
            .values(values)
            .on_conflict_do_update(index_elements=["subscriber_id"], set_=values)
        )
        return 1


def reengage_values(settings: Settings, sub: Subscriber, now: datetime) -> dict[str, Any]:
    """The outbox row of the one re-engagement mail (templates/email/reengage/, editable)."""
    context = reader_context(settings) | {
        "first_name": sub.first_name or "",
        "issues": settings.sunset_after_issues,
        "grace": settings.sunset_grace_issues,
        "archive_url": links.link(settings, "/archive"),
        "preferences_url": links.preferences_url(settings, sub.id, sub.token_nonce, now),
        "unsubscribe_url": links.unsubscribe_url(settings, sub.id, sub.token_nonce, now),
    }
    return outbox_row(settings, "reengage", context, sub.id, sub.email, now, sub.language)


def stage_of(db: Database, subscriber_id: int) -> str | None:
    """mailed | paused | resumed, or None when sunsetting never touched this reader."""
    with db.session() as session:
        return session.scalar(
            select(ReaderSunset.stage).where(ReaderSunset.subscriber_id == subscriber_id)
        )


def come_back(session, subscriber_id: int, now: datetime) -> bool:
    """The reader resumed mail or said they want it: quiet issues count again from now."""
    result = session.execute(
        update(ReaderSunset)
        .where(
            ReaderSunset.subscriber_id == subscriber_id,
            ReaderSunset.stage.in_(("mailed", "paused")),
        )
        .values(stage="resumed", at=now)
    )
    return bool(result.rowcount)
