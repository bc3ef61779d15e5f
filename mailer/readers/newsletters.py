"""The newsletters a site offers and which of them each reader takes."""

from __future__ import annotations

import re
import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import formataddr, parseaddr
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.errors import MailerError
from mailer.core.models import NEWSLETTER_CADENCES, Newsletter, NewsletterSubscription

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class UnknownNewsletter(MailerError):
    """A slug or id no newsletter has: a 4xx for readers, an exit code for operators."""


@dataclass(frozen=True)
class Offer:
    """What a reader page shows of one newsletter (plain values, safe outside a session)."""

    id: int
    slug: str
    name: str
    description: str
    cadence: str
    is_default: bool


@dataclass(frozen=True)
class Identity:
    """How a newsletter's mail names itself: the List-Id, the From, and which newsletter the
    one-click unsubscribe link leaves (None: every one, as for mail before newsletters)."""

    newsletter_id: int | None
    list_id: str
    sender: str


def identity(newsletter: Newsletter | None, settings: Settings) -> Identity:
    """The default newsletter keeps the List-Id the single list had, so readers' filters hold;
    the others add their slug. Empty sender fields fall back to MAILER_FROM_ADDR's."""
    domain = parseaddr(settings.from_addr)[1].rsplit("@", 1)[-1].lower() or "localhost"
    if newsletter is None:
        return Identity(None, f"{settings.list_name} <digest.{domain}>", settings.from_addr)
    if newsletter.is_default:
        list_id = f"{settings.list_name} <digest.{domain}>"
    else:
        list_id = f"{newsletter.name} <{newsletter.slug}.digest.{domain}>"
    sender = settings.from_addr
    if newsletter.from_name or newsletter.from_address:
        name, address = parseaddr(settings.from_addr)
        sender = formataddr((newsletter.from_name or name, newsletter.from_address or address))
    return Identity(newsletter.id, list_id, sender)


def list_name_of(newsletter: Newsletter | None, settings: Settings) -> str:
    """The name readers know a newsletter by: MAILER_LIST_NAME for the default one (what the
    single list was called), its own name for the others."""
    if newsletter is None or newsletter.is_default:
        return settings.list_name
    return newsletter.name


_OFFERS = select(
    Newsletter.id,
    Newsletter.slug,
    Newsletter.name,
    Newsletter.description,
    Newsletter.cadence,
    Newsletter.is_default,
).order_by(Newsletter.is_default.desc(), Newsletter.name)


# Every Join page and signup asks which newsletters are on offer, and the read was a sixth of
# a signup's time; the answer changes when an editor adds or edits one. So each process keeps
# it this many seconds: an edit made here shows at once (add and edit forget it), one made by
# another process (the CLI, another server worker) within OFFERS_SECONDS.
OFFERS_SECONDS = 5.0
_offers_kept: weakref.WeakKeyDictionary[Engine, tuple[float, tuple[Offer, ...]]] = (
    weakref.WeakKeyDictionary()
)


def offers(db: Database, max_age: float = OFFERS_SECONDS) -> list[Offer]:
    """Every newsletter, the default first, then by name (read again after `max_age` s)."""
    kept = _offers_kept.get(db.engine)
    moment = time.monotonic()
    if kept is not None and moment - kept[0] < max_age:
        return list(kept[1])
    with db.engine.connect() as conn:
        found = tuple(Offer(*row) for row in conn.execute(_OFFERS))
    _offers_kept[db.engine] = (moment, found)
    return list(found)


def forget_offers(db: Database) -> None:
    """After a change to the newsletters, so this process's pages show it at once."""
    _offers_kept.pop(db.engine, None)


def default_newsletter(session: Session) -> Newsletter:
    found = session.scalar(select(Newsletter).where(Newsletter.is_default.is_(True)).limit(1))
    if found is None:
        raise UnknownNewsletter("there is no default newsletter; run `mailer db upgrade`.")
    return found


def find(session: Session, ref: str | int | None) -> Newsletter:
    """A newsletter by slug or id; None gives the default."""
    if ref is None or ref == "":
        return default_newsletter(session)
    text = str(ref).strip().lower()
    query = select(Newsletter)
    query = (
        query.where(Newsletter.id == int(text))
        if text.isdigit()
        else query.where(Newsletter.slug == text)
    )
    found = session.scalar(query)
    if found is None:
        raise UnknownNewsletter(f"no newsletter {text!r} (see `mailer newsletters list`).")
    return found


def resolve(db: Database, slugs: Iterable[object] | None) -> tuple[int, ...]:
    """The ids of the chosen slugs, in order and once each; nothing chosen is the default.
    Raises UnknownNewsletter naming the first slug no newsletter has."""
    wanted = list(slugs or ())
    with db.session() as session:
        if not wanted:
            return (default_newsletter(session).id,)
        by_slug = dict(session.execute(select(Newsletter.slug, Newsletter.id)).all())
    ids: list[int] = []
    for slug in wanted:
        nid = by_slug.get(slug) if isinstance(slug, str) else None
        if nid is None:
            shown = str(slug)[:64]
            raise UnknownNewsletter(f"There is no newsletter called {shown!r}.")
        if nid not in ids:
            ids.append(nid)
    return tuple(ids)


def slugs_of(session: Session | Any, ids: Sequence[int]) -> list[str]:
    """The slugs of `ids`, for the consent record (slugs never change, ids mean nothing)."""
    if not ids:
        return []
    rows = dict(
        session.execute(select(Newsletter.id, Newsletter.slug).where(Newsletter.id.in_(ids))).all()
    )
    return [rows[i] for i in ids if i in rows]


def active_ids(session: Session, subscriber_id: int) -> set[int]:
    """The newsletters a reader takes now."""
    return set(
        session.scalars(
            select(NewsletterSubscription.newsletter_id).where(
                NewsletterSubscription.subscriber_id == subscriber_id,
                NewsletterSubscription.status == "active",
            )
        )
    )


def activate(session: Session, subscriber_id: int, ids: Iterable[int], now: datetime) -> list[int]:
    """Make each subscription active (a new row, or an unsubscribed one again); which changed."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return []
    current = dict(
        session.execute(
            select(NewsletterSubscription.newsletter_id, NewsletterSubscription.status).where(
                NewsletterSubscription.subscriber_id == subscriber_id,
                NewsletterSubscription.newsletter_id.in_(ids),
            )
        ).all()
    )
    changed = [nid for nid in ids if current.get(nid) != "active"]
    again = [nid for nid in changed if nid in current]
    if again:
        session.execute(
            update(NewsletterSubscription)
            .where(
                NewsletterSubscription.subscriber_id == subscriber_id,
                NewsletterSubscription.newsletter_id.in_(again),
            )
            .values(status="active", subscribed_at=now, unsubscribed_at=None)
        )
    fresh = [nid for nid in changed if nid not in current]
    if fresh:
        rows = [
            {
                "subscriber_id": subscriber_id,
                "newsletter_id": nid,
                "status": "active",
                "subscribed_at": now,
            }
            for nid in fresh
        ]
        chooser = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        table = NewsletterSubscription.__table__
        session.execute(chooser(table).on_conflict_do_nothing(), rows)
    return changed


def taken_by(session: Session, subscriber_id: int) -> list[dict[str, Any]]:
    """Each newsletter a reader took, with since when and, if they left it, when: for their
    data export and the operator's look at them."""
    rows = session.execute(
        select(
            Newsletter.slug,
            Newsletter.name,
            NewsletterSubscription.status,
            NewsletterSubscription.subscribed_at,
            NewsletterSubscription.unsubscribed_at,
        )
        .join(Newsletter, Newsletter.id == NewsletterSubscription.newsletter_id)
        .where(NewsletterSubscription.subscriber_id == subscriber_id)
        .order_by(Newsletter.is_default.desc(), Newsletter.name)
    ).all()
    return [
        {
            "slug": slug,
            "name": name,
            "status": status,
            "subscribed_at": since.isoformat() if since else None,
            "unsubscribed_at": until.isoformat() if until else None,
        }
        for slug, name, status, since, until in rows
    ]


def activate_many(
    session: Session, subscriber_ids: Sequence[int], newsletter_id: int, now: datetime
) -> None:
    """Subscribe many readers to one newsletter at once (imports, operators' lists)."""
    rows = [
        {
            "subscriber_id": sid,
            "newsletter_id": newsletter_id,
            "status": "active",
            "subscribed_at": now,
        }
        for sid in subscriber_ids
    ]
    if rows:
        session.execute(NewsletterSubscription.__table__.insert(), rows)


def deactivate(
    session: Session, subscriber_id: int, ids: Iterable[int] | None, now: datetime
) -> list[int]:
    """End the given subscriptions (None: all of them); which were active."""
    scope = [
        NewsletterSubscription.subscriber_id == subscriber_id,
        NewsletterSubscription.status == "active",
    ]
    if ids is not None:
        scope.append(NewsletterSubscription.newsletter_id.in_(list(ids)))
    ended = list(session.scalars(select(NewsletterSubscription.newsletter_id).where(*scope)))
    if ended:
        session.execute(
            update(NewsletterSubscription)
            .where(*scope)
            .values(status="unsubscribed", unsubscribed_at=now)
        )
    return ended


# --- operators --------------------------------------------------------------------------------


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    """Refuse what an operator may not store, with one sentence each."""
    if "slug" in values and not SLUG.match(values["slug"] or ""):
        raise MailerError("a slug is lower-case letters, digits and hyphens, such as 'daily'.")
    if "name" in values and not (values["name"] or "").strip():
        raise MailerError("a newsletter needs a name.")
    if "cadence" in values and values["cadence"] not in NEWSLETTER_CADENCES:
        raise MailerError(f"the cadence is one of {', '.join(NEWSLETTER_CADENCES)}.")
    if values.get("send_day") is not None and values["send_day"] not in range(7):
        raise MailerError("the day is one of mon, tue, wed, thu, fri, sat, sun.")
    if values.get("send_hour") is not None and values["send_hour"] not in range(24):
        raise MailerError("the hour is a whole number from 0 to 23.")
    if any(c in (values.get("name") or "") + (values.get("from_name") or "") for c in "\r\n"):
        raise MailerError("a name is one line of text.")
    address = values.get("from_address")
    if address and ("@" not in address or any(c in address for c in "\r\n<> ")):
        raise MailerError("the From address is a bare address such as news@example.com.")
    return values


def add(db: Database, now: datetime, *, slug: str, name: str, **values: Any) -> Newsletter:
    """A new, empty newsletter; readers choose it on Join or in their preferences."""
    values = _checked({"slug": slug, "name": name, **values})
    with db.session() as session:
        if session.scalar(select(Newsletter.id).where(Newsletter.slug == slug)) is not None:
            raise MailerError(f"a newsletter called {slug!r} exists already.")
        row = Newsletter(
            **{"description": "", "topics": "", "cadence": "weekly", **values},
            is_default=False,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
    forget_offers(db)
    return row


def edit(db: Database, ref: str, now: datetime, **values: Any) -> Newsletter:
    """Change what was given; `default=True` makes this the site's default newsletter."""
    make_default = values.pop("default", False)
    values = _checked({k: v for k, v in values.items() if v is not None})
    with db.session() as session:
        row = find(session, ref)
        for name, value in values.items():
            setattr(row, name, value)
        if make_default and not row.is_default:
            session.execute(update(Newsletter).values(is_default=False))
            row.is_default = True
        row.updated_at = now
        session.flush()
    forget_offers(db)
    return row


def reader_counts(db: Database) -> dict[int, int]:
    """Active subscriptions per newsletter id."""
    from sqlalchemy import func

    with db.session() as session:
        rows = session.execute(
            select(NewsletterSubscription.newsletter_id, func.count())
            .where(NewsletterSubscription.status == "active")
            .group_by(NewsletterSubscription.newsletter_id)
        )
        return dict(rows.all())
