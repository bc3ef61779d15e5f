"""Readers' side of the list: subscribe, confirm, unsubscribe, preferences, export, forget."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, exists, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mailer.core import i18n
from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.i18n import N_
from mailer.core.models import ConsentEvent, Newsletter, OutboxMessage, Subscriber, Suppression
from mailer.core.prepared import Prepared
from mailer.readers import newsletters as lists
from mailer.readers import sunset
from mailer.readers.reader_mail import confirmation_values, links_values, welcome_values
from mailer.readers.same_work import insert_when
from mailer.readers.suppressions import address_hash, is_suppressed
from mailer.readers.tokens import TokenExpired, TokenInvalid, read_token, read_untimed
from mailer.readers.validation import InvalidInput, clean_first_name, normalise_email

FORM_VERSION = "join-1"
CONSENT_TEXT = N_(
    "Yes, send me {list_name} from {site_name} {frequency}. "
    "I can unsubscribe at any time with one click."
)
# With several newsletters on offer the reader ticks which; the wording names no one list.
CONSENT_TEXT_SEVERAL = N_(
    "Yes, send me the newsletters I ticked from {site_name}. "
    "I can unsubscribe at any time with one click."
)
# Per-address limits on confirmation mail, counted from the outbox.
CONFIRM_MAIL_GAP = timedelta(minutes=10)
CONFIRM_MAILS_PER_DAY = 3
WITHDRAW_HOW = ("link", "one-click", "preferences", "operator", "mail")
# States whose owner can still be sent a confirmation mail when they ask again.
JOINABLE = ("pending", "unsubscribed")
UNCHANGED = object()


@dataclass(frozen=True)
class Signup:
    """One accepted submission with the context consent records keep."""

    email: str
    first_name: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    origin: str | None = None  # page URL or embed origin
    channel: str = "form"  # form | embed | api
    captcha_provider: str = "none"
    captcha_result: str = "ok"
    form_version: str = FORM_VERSION
    consent_text_hash: str | None = None
    newsletters: tuple[str, ...] = ()  # slugs the caller checked; none: the default newsletter
    language: str | None = None  # the page's (or browser's) language: its confirmation mail's
    email_checked: bool = False  # `email` is normalise_email's answer under these settings


@dataclass(frozen=True)
class ReaderOutcome:
    """What happened, for logs and tests; the reader always sees the same page."""

    result: str  # queued | limited | suppressed | already | refused | bad-link | expired | done
    subscriber_id: int | None = None
    first_name: str | None = None  # the name a confirm link would store
    newsletters: tuple[str, ...] = ()  # the newsletters a confirm link would start


def consent_text(settings: Settings, language: str | None = None, several: bool = False) -> str:
    """The wording beside the box, in the page's language; its hash is what the reader agreed to.
    `several` when the form offers more than one newsletter (the ticked ones are recorded)."""
    chosen = CONSENT_TEXT_SEVERAL if several else CONSENT_TEXT
    wording = i18n.gettext_for(language or settings.default_language, chosen)
    return wording.format(
        list_name=settings.list_name,
        site_name=settings.site_name,
        frequency=settings.list_frequency,
    )


def consent_hash(text: str) -> str:
    """Proof of exactly which wording a reader agreed to."""
    return hashlib.sha256(text.encode()).hexdigest()


def new_token_nonce() -> str:
    return secrets.token_hex(16)


def _insert_ignore(session: Session, values: dict[str, Any]) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING, so racing signups of one address make one row; the new
    row's id, or None when the address was stored already (rowcount says -1 under psycopg)."""
    stmt = _insert_ignore_statement(session.get_bind().dialect.name)
    return session.connection().execute(stmt, values).scalar()


@functools.cache
def _insert_ignore_statement(dialect: str):
    """Built once: parameters are bound per call, so nothing is compiled or keyed again."""
    insert_for = pg_insert if dialect == "postgresql" else sqlite_insert
    table = Subscriber.__table__
    return insert_for(table).on_conflict_do_nothing().returning(table.c.id)


def _locked_subscriber(session: Session, email_hash: str) -> Subscriber | None:
    query = select(Subscriber).where(Subscriber.email_hash == email_hash).with_for_update()
    return session.scalar(query)


class _Joiner(NamedTuple):
    id: int
    email: str
    status: str
    first_name: str | None
    token_nonce: str
    suppressed: bool
    mails_today: int  # confirmation mails queued in the last day
    mails_recent: int  # ... and within CONFIRM_MAIL_GAP


def subscribe(
    db: Database,
    settings: Settings,
    signup: Signup,
    now: datetime,
    *,
    gate: Callable[[Connection], bool] | None = None,
) -> ReaderOutcome:
    """Record a signup and queue one confirmation mail if limits allow; never reveal state.

    Every address takes the same path: the same statements in the same order, each write
    inserting one row or none by a bound flag, and the mail rendered either way. So neither
    the answer nor the time it takes tells a new address from a subscribed or suppressed one.
    `gate` runs first in the same transaction (the CAPTCHA's single-use spend): when it says
    no, nothing is written and the outcome is "refused". Core statements in one transaction
    rather than the ORM's unit of work: it is the busiest write readers make."""
    email = signup.email if signup.email_checked else normalise_email(signup.email, settings)
    name = clean_first_name(signup.first_name)
    new_row = _new_reader_values(
        email, address_hash(email), name, signup.channel, now, signup.language
    )
    with db.engine.begin() as conn:
        if gate is not None and not gate(conn):
            return ReaderOutcome("refused")
        insert_when(conn, "subscribers", new_row, True)  # unless suppressed or stored already
        sub = _stored_joiner(conn, new_row["email_hash"], now)
        # No row: the address is suppressed and was never stored (the insert was skipped).
        suppressed = sub is None or sub.suppressed
        sid = sub.id if sub else 0
        mail_allowed = sub is not None and _may_mail_again(sub.mails_today, sub.mails_recent)
        joinable = not suppressed and sub is not None and sub.status in JOINABLE
        event = _signup_event(sid, signup, now)
        insert_when(conn, "consent_events", event, joinable)
        nonce = sub.token_nonce if sub else new_row["token_nonce"]
        mail = confirmation_values(
            settings, sid, email, nonce, now, name, signup.language, signup.newsletters
        )
        insert_when(conn, "outbox_messages", mail, joinable and mail_allowed)
    if suppressed:
        return ReaderOutcome("suppressed")
    if not joinable:
        return ReaderOutcome("already", sub.id if sub else None)
    return ReaderOutcome("queued" if mail_allowed else "limited", sid)


def _new_reader_values(
    email: str,
    digest: str,
    name: str | None,
    channel: str,
    now: datetime,
    language: str | None = None,
) -> dict[str, Any]:
    return {
        "email": email,
        "email_hash": digest,
        "first_name": name,
        "language": language,
        "status": "pending",
        "paused": False,
        "token_nonce": new_token_nonce(),
        "origin": channel,
        "soft_bounces": 0,
        "created_at": now,
        "updated_at": now,
    }


def _stored_joiner(conn: Connection, digest: str, now: datetime) -> _Joiner | None:
    """The stored reader asking again, locked and left as it is (anyone may type an address,
    so its status and name change only when the owner confirms, see confirm); with whether
    the address is suppressed and the confirmation mails it had lately, in one statement."""
    values = {"digest": digest, "day": now - timedelta(days=1), "gap": now - CONFIRM_MAIL_GAP}
    found = _JOINER.first(conn, values)
    return None if found is None else _Joiner(*found)


def find_subscriber(db: Database, raw_email: str) -> Subscriber | None:
    """The stored subscriber for an address as typed (normalised, no DNS), or None."""
    digest = address_hash(normalise_email(raw_email))
    with db.session() as session:
        return session.scalar(select(Subscriber).where(Subscriber.email_hash == digest))


def add_by_operator(
    db: Database,
    settings: Settings,
    email: str,
    first_name: str | None,
    now: datetime,
    *,
    confirmed: bool,
    operator: str,
    newsletters: tuple[str, ...] = (),
) -> ReaderOutcome:
    """An operator's add: double opt-in, or confirmed on their word; stored rows are kept.
    `newsletters` are slugs (none: the default newsletter)."""
    email = normalise_email(email, settings)
    chosen = lists.resolve(db, newsletters)
    with db.session() as session:
        slugs = lists.slugs_of(session, chosen)
    name = clean_first_name(first_name)
    digest = address_hash(email)
    with db.session() as session:
        if is_suppressed(session, email):
            return ReaderOutcome("suppressed")
        known = session.scalar(select(Subscriber.id).where(Subscriber.email_hash == digest))
        if known is not None:
            return ReaderOutcome("already", known)
    origin = f"operator {operator}"[:512]
    if not confirmed:
        signup = Signup(
            email=email,
            first_name=name,
            origin=origin,
            channel="operator",
            captcha_provider="none",
            captcha_result="operator",
            form_version="operator",
            newsletters=tuple(slugs),
        )
        return subscribe(db, settings, signup, now)
    with db.session() as session:
        if is_suppressed(session, email):  # suppressed since the check above
            return ReaderOutcome("suppressed")
        added = _insert_ignore(
            session,
            {
                "email": email,
                "email_hash": digest,
                "first_name": name,
                "status": "confirmed",
                "paused": False,
                "token_nonce": new_token_nonce(),
                "origin": "operator",
                "soft_bounces": 0,
                "created_at": now,
                "updated_at": now,
                "confirmed_at": now,
            },
        )
        sub = _locked_subscriber(session, digest)
        if not added or sub is None:
            return ReaderOutcome("already", sub.id if sub else None)
        lists.activate(session, sub.id, chosen, now)
        vouched = {
            "channel": "operator",
            "operator": operator,
            "confirmed_by_operator": True,
            "newsletters": slugs,
        }
        session.add(
            ConsentEvent(
                subscriber_id=sub.id,
                kind="signup",
                at=now,
                form_version="operator",
                origin=origin,
                captcha_provider="none",
                captcha_result="operator",
                detail=vouched,
            )
        )
        session.add(ConsentEvent(subscriber_id=sub.id, kind="confirm", at=now, detail=vouched))
        return ReaderOutcome("done", sub.id)


def _signup_event(subscriber_id: int, signup: Signup, now: datetime) -> dict[str, Any]:
    return {
        "subscriber_id": subscriber_id,
        "kind": "signup",
        "at": now,
        "ip": signup.ip,
        "user_agent": (signup.user_agent or "")[:512] or None,
        "form_version": signup.form_version,
        "consent_text_hash": signup.consent_text_hash,
        "origin": (signup.origin or "")[:512] or None,
        "captcha_provider": signup.captcha_provider,
        "captcha_result": signup.captcha_result[:64],
        "detail": _signup_detail(signup),
    }


def _signup_detail(signup: Signup) -> dict[str, Any]:
    """The channel, and the newsletters the reader chose when the caller named them."""
    if not signup.newsletters:
        return {"channel": signup.channel}
    return {"channel": signup.channel, "newsletters": list(signup.newsletters)}


# Built once, bound per call: signup runs these for every address.
_SENT = select(OutboxMessage.created_at).where(
    OutboxMessage.subscriber_id == bindparam("sid"),
    OutboxMessage.kind == bindparam("kind"),
    OutboxMessage.created_at > bindparam("since"),
)
_c = Subscriber.__table__.c
_o = OutboxMessage.__table__.c


def _confirm_mails_since(name: str):
    return (
        select(func.count())
        .where(_o.subscriber_id == _c.id, _o.kind == "confirm", _o.created_at > bindparam(name))
        .scalar_subquery()
    )


_JOINER = Prepared(
    select(
        _c.id,
        _c.email,
        _c.status,
        _c.first_name,
        _c.token_nonce,
        exists().where(Suppression.email_hash == bindparam("digest")),
        _confirm_mails_since("day"),
        _confirm_mails_since("gap"),
    )
    .where(_c.email_hash == bindparam("digest"))
    .with_for_update(of=Subscriber.__table__)
)


def _may_mail_again(mails_today: int, mails_recent: int) -> bool:
    """may_mail's rule on counts: under three a day, none within the gap."""
    return mails_today < CONFIRM_MAILS_PER_DAY and mails_recent == 0


def may_mail(
    session: Session | Connection, subscriber_id: int, now: datetime, kind: str = "confirm"
) -> bool:
    """At most one such mail (a confirmation, or fresh links) per 10 minutes and three a day
    per address."""
    since = now - timedelta(days=1)
    times = list(session.scalars(_SENT, {"sid": subscriber_id, "kind": kind, "since": since}))
    recent = sum(t > now - CONFIRM_MAIL_GAP for t in times)
    return _may_mail_again(len(times), recent)


# --- links ---------------------------------------------------------------------------------


def _read(
    settings: Settings, purpose: str, token: str, max_age: int | None, now: datetime | None = None
) -> dict[str, Any]:
    payload = read_token(settings.secret_key, purpose, token, max_age, now)
    if not isinstance(payload.get("sid"), int) or not isinstance(payload.get("n"), str):
        raise TokenInvalid("invalid")
    return payload


def confirm_max_age(settings: Settings) -> int:
    return settings.confirm_hours * 3600


def inspect_confirm(db: Database, settings: Settings, token: str, now: datetime) -> ReaderOutcome:
    """What a confirm link would do, without changing anything (GET is read-only)."""
    payload = _read_confirm(settings, token, now)
    if isinstance(payload, ReaderOutcome):
        return payload
    with db.session() as session:
        sub = session.get(Subscriber, payload["sid"])
        ready = ReaderOutcome("ready", payload["sid"], _link_name(payload), _link_lists(payload))
        return _not_confirmable(sub, payload) or ready


def _link_name(payload: dict[str, Any] | None) -> str | None:
    """The first name a confirm link carries, checked again (it was checked at signup)."""
    name = (payload or {}).get("fn")
    if not isinstance(name, str):
        return None
    try:
        return clean_first_name(name)
    except InvalidInput:
        return None


def _link_lists(payload: dict[str, Any] | None) -> tuple[str, ...]:
    """The newsletter slugs a confirm link carries (none in links made before there were
    several: they confirm the default newsletter)."""
    chosen = (payload or {}).get("nl")
    if not isinstance(chosen, list):
        return ()
    return tuple(s for s in chosen if isinstance(s, str) and lists.SLUG.match(s))[:32]


def _read_confirm(settings: Settings, token: str, now: datetime) -> dict[str, Any] | ReaderOutcome:
    """The confirm link's payload, or the outcome a bad or expired link gets."""
    try:
        return _read(settings, "confirm", token, confirm_max_age(settings), now)
    except TokenExpired as exc:
        sid = (exc.payload or {}).get("sid")
        name, chosen = _link_name(exc.payload), _link_lists(exc.payload)
        return ReaderOutcome("expired", sid if isinstance(sid, int) else None, name, chosen)
    except TokenInvalid:
        return ReaderOutcome("bad-link")


def _not_confirmable(sub: Subscriber | None, payload: dict[str, Any]) -> ReaderOutcome | None:
    """Why this link cannot confirm this subscriber now, or None when it can."""
    if sub is None or sub.status == "erased":
        return ReaderOutcome("bad-link")
    if sub.status == "confirmed":
        return ReaderOutcome("already", sub.id)
    if sub.status not in JOINABLE or sub.token_nonce != payload["n"]:
        return ReaderOutcome("expired", sub.id, _link_name(payload), _link_lists(payload))
    return None


def confirm(
    db: Database, settings: Settings, token: str, ip: str | None, now: datetime
) -> ReaderOutcome:
    """Confirm a pending subscriber once; a second POST of the same link changes nothing."""
    payload = _read_confirm(settings, token, now)
    if isinstance(payload, ReaderOutcome):
        return payload
    with db.session() as session:
        sub = session.scalar(
            select(Subscriber).where(Subscriber.id == payload["sid"]).with_for_update()
        )
        refused = _not_confirmable(sub, payload)
        if refused is not None:
            return refused
        if sub.email and is_suppressed(session, sub.email):
            return ReaderOutcome("bad-link", sub.id)
        sub.status, sub.confirmed_at, sub.updated_at = "confirmed", now, now
        sub.unsubscribed_at = None
        name = _link_name(payload)
        if name:  # typed at signup; stored now that the owner has confirmed
            sub.first_name = name
        sub.token_nonce = new_token_nonce()
        chosen = _chosen_ids(session, _link_lists(payload))
        lists.activate(session, sub.id, chosen, now)
        started = {"newsletters": lists.slugs_of(session, chosen)}
        session.add(
            ConsentEvent(subscriber_id=sub.id, kind="confirm", at=now, ip=ip, detail=started)
        )
        if settings.welcome_mail:  # queued with the confirmation: both happen or neither
            welcome = welcome_values(
                settings, sub.id, sub.email, sub.token_nonce, now, sub.first_name, sub.language
            )
            session.connection().execute(insert(OutboxMessage.__table__), welcome)
        return ReaderOutcome("done", sub.id)


def _chosen_ids(session: Session, slugs: tuple[str, ...]) -> list[int]:
    """The ids of the newsletters a link names that still exist; none left: the default."""
    if slugs:
        found = dict(
            session.execute(
                select(Newsletter.slug, Newsletter.id).where(Newsletter.slug.in_(slugs))
            ).all()
        )
        ids = [found[s] for s in slugs if s in found]
        if ids:
            return ids
    return [lists.default_newsletter(session).id]


def send_fresh_link(
    db: Database,
    settings: Settings,
    subscriber_id: int,
    now: datetime,
    first_name: str | None = None,
    newsletters: tuple[str, ...] = (),
) -> ReaderOutcome:
    """A new confirmation mail for a reader whose link expired, under the same limits; it
    carries the name and the newsletters the expired link carried."""
    with db.session() as session:
        sub = session.scalar(
            select(Subscriber).where(Subscriber.id == subscriber_id).with_for_update()
        )
        if sub is None or sub.status not in JOINABLE or not sub.email:
            return ReaderOutcome("already", subscriber_id)
        if is_suppressed(session, sub.email):
            return ReaderOutcome("suppressed", sub.id)
        if not may_mail(session, sub.id, now):
            return ReaderOutcome("limited", sub.id)
        mail = confirmation_values(
            settings, sub.id, sub.email, sub.token_nonce, now, first_name, sub.language, newsletters
        )
        session.connection().execute(insert(OutboxMessage.__table__), mail)
        return ReaderOutcome("queued", sub.id)


def subscriber_for(
    db: Database, settings: Settings, purpose: str, token: str, now: datetime | None = None
) -> Subscriber | None:
    """The subscriber a current unsubscribe or preferences link names, or None for a bad,
    superseded or too old link."""
    if purpose == "unsubscribe":
        state, sub = unsubscribe_link(db, settings, token, now)
    else:
        state, sub = preferences_link(db, settings, token, now)
    return sub if state == "ok" else None


def preferences_link(
    db: Database, settings: Settings, token: str, now: datetime | None
) -> tuple[str, Subscriber | None]:
    """("ok", reader) within MAILER_UNSUBSCRIBE_LINK_DAYS of the mail while the reader's nonce
    is the one inside; ("old", reader) for an older or untimed link and ("superseded", reader)
    for one from before the reader confirmed again: both may only ask for fresh links by mail;
    ("gone", None) when its reader was erased; ("bad", None) for a token not ours or cut short.
    The page shows personal data and changes it, so a forwarded mail must stop opening it."""
    try:
        payload = _read(settings, "preferences", token, unsubscribe_max_age(settings), now)
    except TokenExpired as exc:
        return _old_link((exc.payload or {}).get("sid"), db)
    except TokenInvalid:
        try:
            legacy = read_untimed(settings.secret_key, "preferences", token)
        except TokenInvalid:
            return "bad", None
        return _old_link(legacy.get("sid"), db)
    sub = _live_subscriber(db, payload["sid"])
    if sub is None:
        return "gone", None
    return ("ok", sub) if sub.token_nonce == payload["n"] else ("superseded", sub)


def _old_link(sid: object, db: Database) -> tuple[str, Subscriber | None]:
    sub = _live_subscriber(db, sid) if isinstance(sid, int) else None
    return ("old", sub) if sub else ("gone", None)


def _live_subscriber(db: Database, subscriber_id: int) -> Subscriber | None:
    with db.session() as session:
        sub = session.get(Subscriber, subscriber_id)
    return None if sub is None or sub.status == "erased" else sub


def unsubscribe_max_age(settings: Settings) -> int:
    return settings.unsubscribe_link_days * 86400


def unsubscribe_link(
    db: Database, settings: Settings, token: str, now: datetime | None
) -> tuple[str, Subscriber | None]:
    """("ok", reader) within MAILER_UNSUBSCRIBE_LINK_DAYS of the mail, whatever happened since
    (the law wants 30 days); ("old", reader) after that; ("bad", None) for a link not ours.
    A link made before links carried a time works while the reader's nonce is unchanged."""
    try:
        payload = _read(settings, "unsubscribe", token, unsubscribe_max_age(settings), now)
    except TokenExpired as exc:
        sid = (exc.payload or {}).get("sid")
        sub = _live_subscriber(db, sid) if isinstance(sid, int) else None
        return ("old", sub) if sub else ("bad", None)
    except TokenInvalid:
        return _untimed_unsubscribe_link(db, settings, token)
    sub = _live_subscriber(db, payload["sid"])
    return ("ok", sub) if sub else ("bad", None)


def unsubscribe_scope(settings: Settings, token: str) -> int | None:
    """The newsletter a genuine unsubscribe link leaves (a digest's names its own); None for
    every one: the links in reader mail, and digest links made before there were several."""
    try:
        payload = read_token(settings.secret_key, "unsubscribe", token)
    except TokenExpired as exc:
        payload = exc.payload or {}
    except TokenInvalid:
        try:
            payload = read_untimed(settings.secret_key, "unsubscribe", token)
        except TokenInvalid:
            return None
    chosen = payload.get("nl")
    return chosen if isinstance(chosen, int) and not isinstance(chosen, bool) else None


def _untimed_unsubscribe_link(
    db: Database, settings: Settings, token: str
) -> tuple[str, Subscriber | None]:
    try:
        payload = read_untimed(settings.secret_key, "unsubscribe", token)
    except TokenInvalid:
        return "bad", None
    sid = payload.get("sid")
    sub = _live_subscriber(db, sid) if isinstance(sid, int) else None
    if sub is None:
        return "bad", None
    return ("ok", sub) if sub.token_nonce == payload.get("n") else ("old", sub)


def send_fresh_links(
    db: Database, settings: Settings, subscriber_id: int, now: datetime
) -> ReaderOutcome:
    """Mail a reader whose unsubscribe link is too old their current links, under limits like
    the confirmation's: the address is the stored one, never one the visitor typed."""

    def row(sub: Subscriber) -> dict[str, Any]:
        return links_values(settings, sub.id, sub.email, sub.token_nonce, now, sub.language)

    return queue_reader_mail(db, subscriber_id, now, "links", row)


def queue_reader_mail(
    db: Database,
    subscriber_id: int,
    now: datetime,
    kind: str,
    row: Callable[[Subscriber], dict[str, Any]],
) -> ReaderOutcome:
    """Queue one mail of `kind` to a live reader's stored address, under the per-address mail
    limits; `row` builds its outbox row from the locked reader."""
    with db.session() as session:
        sub = session.scalar(
            select(Subscriber).where(Subscriber.id == subscriber_id).with_for_update()
        )
        if sub is None or sub.status == "erased" or not sub.email:
            return ReaderOutcome("bad-link")
        if is_suppressed(session, sub.email):
            return ReaderOutcome("suppressed", sub.id)
        if not may_mail(session, sub.id, now, kind=kind):
            return ReaderOutcome("limited", sub.id)
        session.connection().execute(insert(OutboxMessage.__table__), row(sub))
        return ReaderOutcome("queued", sub.id)


def unsubscribe(
    db: Database,
    subscriber_id: int,
    how: str,
    now: datetime,
    ip: str | None = None,
    newsletter_id: int | None = None,
) -> ReaderOutcome:
    """Stop mail at once and record the withdrawal; repeating it changes nothing. With a
    newsletter only that one stops; leaving the last one is leaving altogether."""
    if how not in WITHDRAW_HOW:
        raise ValueError(f"unknown withdrawal channel {how!r}")
    with db.session() as session:
        sub = session.scalar(
            select(Subscriber).where(Subscriber.id == subscriber_id).with_for_update()
        )
        if sub is None or sub.status == "erased":
            return ReaderOutcome("bad-link")
        if sub.status == "unsubscribed":
            return ReaderOutcome("already", sub.id)
        scope = None if newsletter_id is None else [newsletter_id]
        ended = lists.deactivate(session, sub.id, scope, now)
        if scope is not None and not ended:
            return ReaderOutcome("already", sub.id)
        previous = sub.status
        leaving = scope is None or not lists.active_ids(session, sub.id)
        if leaving and previous in ("pending", "confirmed"):
            sub.status = "unsubscribed"
        if leaving:
            sub.unsubscribed_at = now
        sub.updated_at = now
        detail = {"how": how, "previous": previous, "newsletters": lists.slugs_of(session, ended)}
        if scope is None:
            detail["all"] = True
        session.add(
            ConsentEvent(subscriber_id=sub.id, kind="withdraw", at=now, ip=ip, detail=detail)
        )
        return ReaderOutcome("done", sub.id)


def choose_newsletters(
    db: Database, subscriber_id: int, chosen: list[int], now: datetime, ip: str | None = None
) -> ReaderOutcome:
    """A confirmed reader's ticks in their preferences: the link proved the mailbox, so new
    choices start at once; ticking none is leaving altogether."""
    if not chosen:
        return unsubscribe(db, subscriber_id, "preferences", now, ip)
    with db.session() as session:
        sub = session.scalar(
            select(Subscriber).where(Subscriber.id == subscriber_id).with_for_update()
        )
        if sub is None or sub.status != "confirmed":
            return ReaderOutcome("bad-link")
        current = lists.active_ids(session, sub.id)
        ended = lists.deactivate(session, sub.id, current - set(chosen), now)
        started = lists.activate(session, sub.id, chosen, now)
        if not ended and not started:
            return ReaderOutcome("already", sub.id)
        sub.updated_at = now
        detail = {
            "newsletters_started": lists.slugs_of(session, started),
            "newsletters_ended": lists.slugs_of(session, ended),
        }
        session.add(
            ConsentEvent(subscriber_id=sub.id, kind="preferences", at=now, ip=ip, detail=detail)
        )
        return ReaderOutcome("done", sub.id)


def update_preferences(
    db: Database,
    subscriber_id: int,
    now: datetime,
    *,
    first_name: str | object | None = UNCHANGED,
    paused: bool | None = None,
    ip: str | None = None,
    language: str | None = None,
) -> ReaderOutcome:
    """Change the greeting name, the language or pause mail; each change is recorded.
    `language` must already be one of MAILER_LANGUAGES (the caller picks it)."""
    keep_name = first_name is UNCHANGED
    name = None if keep_name else clean_first_name(first_name)  # type: ignore[arg-type]
    with db.session() as session:
        sub = session.scalar(
            select(Subscriber).where(Subscriber.id == subscriber_id).with_for_update()
        )
        if sub is None or sub.status == "erased":
            return ReaderOutcome("bad-link")
        changes: dict[str, Any] = {}
        if not keep_name and name != sub.first_name:
            changes["first_name"] = "changed" if name else "removed"
            sub.first_name = name
        if language is not None and language != sub.language:
            changes["language"] = language
            sub.language = language
        if paused is not None and paused != sub.paused:
            changes["paused"] = paused
            sub.paused = paused
        if paused is False and sunset.come_back(session, sub.id, now):
            changes["sunset"] = "came back"  # quiet issues count again from now
        if not changes:
            return ReaderOutcome("already", sub.id)
        sub.updated_at = now
        session.add(
            ConsentEvent(subscriber_id=sub.id, kind="preferences", at=now, ip=ip, detail=changes)
        )
        return ReaderOutcome("done", sub.id)
