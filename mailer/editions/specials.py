"""Special editions: an issue an editor composes from chosen articles, or one breaking story
with its related coverage, then previews, tests, approves and sends as any digest."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mailer.content.calendar import special_day, special_key
from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.errors import Conflict, MailerError, NotFound
from mailer.core.models import Article, Digest
from mailer.core.text import strip_invisible
from mailer.editions.audit import audit
from mailer.editions.digests import fill_defaults, get_digest, snapshot_item, snapshot_related
from mailer.editions.render import check_size
from mailer.editions.suggestions import related_for
from mailer.readers import newsletters

SPECIAL = "special"
TITLE_MAX = 150  # the subject line; an inbox shows far less (the desk shows the phone's cut)
MAX_STORIES = 20
BREAKING_RELATED = 6  # related pieces under a breaking story, when MAILER_DIGEST_RELATED is less
SCHEDULABLE = ("draft", "approved")
_KEY_ATTEMPTS = 5  # two editors composing at once each get their own key


def is_special(digest: Digest) -> bool:
    return digest.kind == SPECIAL


def clean_title(title: str) -> str:
    """One line of visible text, as the subject it becomes."""
    text = " ".join(strip_invisible(title or "").split())
    if not text:
        raise MailerError("a special edition needs a title (it is the email's subject).")
    if len(text) > TITLE_MAX:
        raise MailerError(f"the title is {len(text)} characters; keep it to {TITLE_MAX}.")
    return text


def _check_time(when: datetime | None, now: datetime) -> None:
    if when is not None and when <= now:
        raise MailerError("the send time has passed; give a time to come, or send it now.")


def create_special(
    db: Database,
    settings: Settings,
    now: datetime,
    title: str,
    actor: str,
    *,
    article_ids: Sequence[int] = (),
    breaking: int | None = None,
    scheduled_for: datetime | None = None,
    newsletter: str | int | None = None,
) -> Digest:
    """A draft special edition of the chosen articles in order, or of one breaking story with
    its related coverage, for one newsletter's readers (None: the default newsletter); frozen
    like a weekly digest, so what is previewed is what is sent."""
    subject = clean_title(title)
    ids = list(dict.fromkeys(article_ids))
    if bool(ids) == (breaking is not None):
        raise MailerError("choose the articles, or one breaking story (not both, not neither).")
    if len(ids) > MAX_STORIES:
        raise MailerError(f"{len(ids)} articles chosen; a special edition holds {MAX_STORIES}.")
    _check_time(scheduled_for, now)
    for attempt in range(_KEY_ATTEMPTS):
        try:
            return _compose(
                db, settings, now, subject, actor, ids, breaking, scheduled_for, newsletter
            )
        except IntegrityError:  # another editor took this key between our count and insert
            if attempt == _KEY_ATTEMPTS - 1:
                raise Conflict("could not number the special edition; try again.") from None
    raise AssertionError("unreachable")


def _compose(db, settings, now, subject, actor, ids, breaking, scheduled_for, newsletter) -> Digest:
    with db.session() as session:
        owner = newsletters.find(session, newsletter)
        wanted = ids or [breaking]
        found = {a.id: a for a in session.scalars(select(Article).where(Article.id.in_(wanted)))}
        missing = [str(i) for i in wanted if i not in found]
        if missing:
            raise NotFound(f"no stored article {', '.join(missing)}.")
        day = now.astimezone(settings.zone).date()
        prefix = special_key(day, 0)[:-1]
        taken = session.scalars(
            select(Digest.period_key).where(Digest.period_key.like(prefix + "%"))
        )
        number = 1 + max((int(k[len(prefix) :]) for k in taken if special_day(k)), default=0)
        digest = Digest(
            period_key=special_key(day, number),
            kind=SPECIAL,
            newsletter_id=owner.id,
            status="draft",
            subject=subject,
            scheduled_for=scheduled_for,
            created_at=now,
            updated_at=now,
        )
        for position, article_id in enumerate(wanted):
            digest.items.append(snapshot_item(found[article_id], position, 0.0))
        if breaking is not None:
            lead = digest.items[0]
            k = max(settings.digest_related, BREAKING_RELATED)
            for rel_pos, rel in enumerate(related_for(session, settings, found[breaking], k, [])):
                piece = session.get(Article, rel.doc.id)
                lead.related.append(snapshot_related(piece, rel_pos, rel.score))
            titles = [r.title for r in lead.related[:2]]
            digest.preheader = ("Also: " + "; ".join(titles))[:250] if titles else ""
        fill_defaults(digest, settings, newsletters.list_name_of(owner, settings))
        session.add(digest)
        session.flush()
        check_size(digest, settings)
        detail = {"articles": ids} if ids else {"breaking": breaking}
        detail["newsletter"] = owner.slug
        audit(session, actor, "compose", digest, now, detail)
        return digest


def schedule(
    db: Database, ref: str | int, when: datetime | None, actor: str, now: datetime
) -> Digest:
    """Set (or, with None, clear) the time a special edition goes once approved."""
    _check_time(when, now)
    with db.session() as session:
        digest = get_digest(session, ref, lock=True)
        if not is_special(digest):
            raise Conflict(f"{digest.period_key} is a weekly digest; it goes at MAILER_SEND_AT.")
        if digest.status not in SCHEDULABLE:
            raise Conflict(f"{digest.period_key} is {digest.status}; its time can no longer move.")
        digest.scheduled_for, digest.updated_at = when, now
        detail = {"at": when.isoformat()} if when else {"at": None}
        audit(session, actor, "schedule", digest, now, detail)
        session.flush()
        return digest


def list_specials(db: Database, limit: int = 100) -> list[Digest]:
    """Special editions, newest first."""
    query = (
        select(Digest)
        .where(Digest.kind == SPECIAL)
        .order_by(Digest.created_at.desc(), Digest.id.desc())
        .limit(limit)
    )
    with db.session() as session:
        return list(session.scalars(query))


def due_specials(db: Database, now: datetime, since: datetime) -> list[Digest]:
    """Special editions whose chosen time came between `since` and `now`, oldest first."""
    query = (
        select(Digest)
        .where(
            Digest.kind == SPECIAL,
            Digest.status.in_(SCHEDULABLE),
            Digest.scheduled_for <= now,
            Digest.scheduled_for >= since,
        )
        .order_by(Digest.scheduled_for, Digest.id)
    )
    with db.session() as session:
        return list(session.scalars(query))


def parse_when(text: str | None, zone: ZoneInfo) -> datetime | None:
    """A send time typed as the newsroom reads clocks (2026-12-03 09:30, or the browser's
    2026-12-03T09:30), in MAILER_TIMEZONE; empty means none."""
    value = (text or "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value[:40])
    except ValueError:
        raise MailerError(f"{value[:40]!r} is not a time such as 2026-12-03 09:30.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)
