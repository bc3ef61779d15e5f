"""Readers' side of the list: subscribe, confirm, unsubscribe, preferences, export, forget."""

from __future__ import annotations

import functools
import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from mailer.core.config import Settings
from mailer.core.db import Database
from mailer.core.models import (
    ConsentEvent,
    Digest,
    DigestItem,
    DigestRelated,
    OutboxMessage,
    ReaderClick,
    Subscriber,
)
from mailer.core.templates import environment
from mailer.readers import links
from mailer.readers.suppressions import address_hash, find_suppression, is_suppressed, suppress
from mailer.readers.tokens import TokenExpired, TokenInvalid, read_token

NAME_MAX = 60
FORM_VERSION = "join-1"
CONSENT_TEXT = (
    "Yes, send me {list_name} from {site_name} {frequency}. "
    "I can unsubscribe at any time with one click."
)
# Per-address limits on confirmation mail, counted from the outbox.
CONFIRM_MAIL_GAP = timedelta(minutes=10)
CONFIRM_MAILS_PER_DAY = 3
WITHDRAW_HOW = ("link", "one-click", "preferences", "operator", "mail")
# States whose owner can still be sent a confirmation mail when they ask again.
JOINABLE = ("pending", "unsubscribed")
UNCHANGED = object()


class InvalidInput(ValueError):
    """A field the reader can fix; `field` names it for the form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


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


@dataclass(frozen=True)
class Outcome:
    """What happened, for logs and tests; the reader always sees the same page."""

    result: str  # queued | limited | suppressed | already | bad-link | expired | done
    subscriber_id: int | None = None


def consent_text(settings: Settings) -> str:
    return CONSENT_TEXT.format(
        list_name=settings.list_name,
        site_name=settings.site_name,
        frequency=settings.list_frequency,
    )


def consent_hash(text: str) -> str:
    """Proof of exactly which wording a reader agreed to."""
    return hashlib.sha256(text.encode()).hexdigest()


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text)


def normalise_email(raw: str, settings: Settings | None = None) -> str:
    """The address as stored (lowercased), or InvalidInput; DNS only when settings ask for it."""
    raw = (raw or "").strip()
    if not raw:
        raise InvalidInput("email", "Enter your email address.")
    if _has_control(raw):
        raise InvalidInput("email", "The address contains a character that is not allowed.")
    if len(raw) > 320:
        raise InvalidInput("email", "That address is too long.")
    try:
        # Lookups and bulk imports pass no settings: a stored address must always be findable.
        dns = settings is not None and settings.check_deliverability
        info = validate_email(raw, check_deliverability=dns)
    except EmailNotValidError as exc:
        raise InvalidInput("email", str(exc)) from None
    return info.normalized.lower()


def clean_first_name(raw: str | None) -> str | None:
    """Letters, spaces, apostrophes and hyphens, at most 60: safe for any greeting or header."""
    if raw is None or not raw.strip():
        return None
    if _has_control(raw):
        raise InvalidInput("first_name", "Your name contains a character that is not allowed.")
    name = " ".join(raw.split())
    if len(name) > NAME_MAX:
        raise InvalidInput("first_name", f"Keep your first name to {NAME_MAX} characters.")
    if not all(c.isalpha() or c in " '-\u2019" for c in name):
        raise InvalidInput(
            "first_name", "Use letters, spaces, apostrophes and hyphens in your first name."
        )
    return name


def _nonce() -> str:
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


def subscribe(db: Database, settings: Settings, signup: Signup, now: datetime) -> Outcome:
    """Record a signup and queue one confirmation mail if limits allow; never reveal state.
    Core statements rather than the ORM's unit of work: it is the busiest write readers make."""
    email = normalise_email(signup.email, settings)
    name = clean_first_name(signup.first_name)
    digest = address_hash(email)
    with db.session() as session:
        conn = session.connection()
        if is_suppressed(session, email):
            return Outcome("suppressed")
        nonce = _nonce()
        added = _insert_ignore(
            session,
            {
                "email": email,
                "email_hash": digest,
                "first_name": name,
                "status": "pending",
                "paused": False,
                "token_nonce": nonce,
                "origin": signup.channel,
                "soft_bounces": 0,
                "created_at": now,
                "updated_at": now,
            },
        )
        if added is not None:  # a new reader: nothing to read back, and no mail sent before
            sub = _Joiner(added, email, "pending", name, nonce)
        else:
            sub = _stored_joiner(conn, digest, name, now)
            if sub is None or sub.status not in JOINABLE:
                return Outcome("already", sub.id if sub else None)
        conn.execute(insert(ConsentEvent.__table__), _signup_event(sub.id, signup, now))
        if added is None and not _may_mail(conn, sub.id, now):
            return Outcome("limited", sub.id)
        mail = confirmation_values(settings, sub.id, sub.email, sub.token_nonce, now)
        conn.execute(insert(OutboxMessage.__table__), mail)
        return Outcome("queued", sub.id)


def _stored_joiner(conn: Connection, digest: str, name: str | None, now: datetime):
    """The stored reader asking again, locked; one who left comes back as pending."""
    c = Subscriber.__table__.c
    found = conn.execute(
        select(c.id, c.email, c.status, c.first_name, c.token_nonce)
        .where(c.email_hash == digest)
        .with_for_update()
    ).one_or_none()
    if found is None or found.status not in JOINABLE:
        return found
    sub = _Joiner(*found)
    changes: dict[str, Any] = {}
    if sub.status == "unsubscribed":
        changes.update(status="pending", updated_at=now)
    if name and not sub.first_name:
        changes["first_name"] = name
    if changes:
        conn.execute(update(Subscriber.__table__).where(c.id == sub.id).values(**changes))
    return sub


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
) -> Outcome:
    """An operator's add: double opt-in, or confirmed on their word; stored rows are kept."""
    email = normalise_email(email, settings)
    name = clean_first_name(first_name)
    digest = address_hash(email)
    with db.session() as session:
        if is_suppressed(session, email):
            return Outcome("suppressed")
        known = session.scalar(select(Subscriber.id).where(Subscriber.email_hash == digest))
        if known is not None:
            return Outcome("already", known)
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
        )
        return subscribe(db, settings, signup, now)
    with db.session() as session:
        if is_suppressed(session, email):  # suppressed since the check above
            return Outcome("suppressed")
        added = _insert_ignore(
            session,
            {
                "email": email,
                "email_hash": digest,
                "first_name": name,
                "status": "confirmed",
                "paused": False,
                "token_nonce": _nonce(),
                "origin": "operator",
                "soft_bounces": 0,
                "created_at": now,
                "updated_at": now,
                "confirmed_at": now,
            },
        )
        sub = _locked_subscriber(session, digest)
        if not added or sub is None:
            return Outcome("already", sub.id if sub else None)
        vouched = {"channel": "operator", "operator": operator, "confirmed_by_operator": True}
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
        return Outcome("done", sub.id)


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
        "detail": {"channel": signup.channel},
    }


def _may_mail(session: Session | Connection, subscriber_id: int, now: datetime) -> bool:
    """At most one confirmation per 10 minutes and three a day per address."""
    sent = select(OutboxMessage.created_at).where(
        OutboxMessage.subscriber_id == subscriber_id,
        OutboxMessage.kind == "confirm",
        OutboxMessage.created_at > now - timedelta(days=1),
    )
    times = list(session.scalars(sent))
    if len(times) >= CONFIRM_MAILS_PER_DAY:
        return False
    return all(t <= now - CONFIRM_MAIL_GAP for t in times)


def confirmation_values(
    settings: Settings, subscriber_id: int, email: str, nonce: str, now: datetime
) -> dict[str, Any]:
    """The outbox row for a confirmation mail: it names nothing the visitor typed."""
    env = environment()
    context = {
        "list_name": settings.list_name,
        "site_name": settings.site_name,
        "frequency": settings.list_frequency,
        "confirm_url": links.confirm_url(settings, subscriber_id, nonce, now),
        "hours": settings.confirm_hours,
        "expires": (now + timedelta(hours=settings.confirm_hours)).astimezone(settings.zone),
        "base_url": settings.base_url,
    }
    subject = env.get_template("email/confirm/subject.txt").render(context)
    return {
        "kind": "confirm",
        "subscriber_id": subscriber_id,
        "recipient": email,
        "subject": " ".join(subject.split()),
        "text": env.get_template("email/confirm/body.txt").render(context),
        "html": env.get_template("email/confirm/body.html").render(context),
        "headers": {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
        "message_id": links.new_message_id(settings),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


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


def inspect_confirm(db: Database, settings: Settings, token: str, now: datetime) -> Outcome:
    """What a confirm link would do, without changing anything (GET is read-only)."""
    payload = _read_confirm(settings, token, now)
    if isinstance(payload, Outcome):
        return payload
    with db.session() as session:
        sub = session.get(Subscriber, payload["sid"])
        return _not_confirmable(sub, payload) or Outcome("ready", sub.id)


def _read_confirm(settings: Settings, token: str, now: datetime) -> dict[str, Any] | Outcome:
    """The confirm link's payload, or the outcome a bad or expired link gets."""
    try:
        return _read(settings, "confirm", token, confirm_max_age(settings), now)
    except TokenExpired as exc:
        sid = (exc.payload or {}).get("sid")
        return Outcome("expired", sid if isinstance(sid, int) else None)
    except TokenInvalid:
        return Outcome("bad-link")


def _not_confirmable(sub: Subscriber | None, payload: dict[str, Any]) -> Outcome | None:
    """Why this link cannot confirm this subscriber now, or None when it can."""
    if sub is None or sub.status == "erased":
        return Outcome("bad-link")
    if sub.status == "confirmed":
        return Outcome("already", sub.id)
    if sub.status != "pending" or sub.token_nonce != payload["n"]:
        return Outcome("expired", sub.id)
    return None


def confirm(db: Database, settings: Settings, token: str, ip: str | None, now: datetime) -> Outcome:
    """Confirm a pending subscriber once; a second POST of the same link changes nothing."""
    payload = _read_confirm(settings, token, now)
    if isinstance(payload, Outcome):
        return payload
    with db.session() as session:
        sub = session.scalar(
            select(Subscriber).where(Subscriber.id == payload["sid"]).with_for_update()
        )
        refused = _not_confirmable(sub, payload)
        if refused is not None:
            return refused
        if sub.email and is_suppressed(session, sub.email):
            return Outcome("bad-link", sub.id)
        sub.status, sub.confirmed_at, sub.updated_at = "confirmed", now, now
        sub.unsubscribed_at = None
        sub.token_nonce = _nonce()
        session.add(ConsentEvent(subscriber_id=sub.id, kind="confirm", at=now, ip=ip))
        return Outcome("done", sub.id)


def send_fresh_link(db: Database, settings: Settings, subscriber_id: int, now: datetime) -> Outcome:
    """A new confirmation mail for a pending reader whose link expired, under the same limits."""
    with db.session() as session:
        sub = session.scalar(
            select(Subscriber).where(Subscriber.id == subscriber_id).with_for_update()
        )
        if sub is None or sub.status != "pending" or not sub.email:
            return Outcome("already", subscriber_id)
        if is_suppressed(session, sub.email):
            return Outcome("suppressed", sub.id)
        if not _may_mail(session, sub.id, now):
            return Outcome("limited", sub.id)
        mail = confirmation_values(settings, sub.id, sub.email, sub.token_nonce, now)
        session.connection().execute(insert(OutboxMessage.__table__), mail)
        return Outcome("queued", sub.id)


def subscriber_for(db: Database, settings: Settings, purpose: str, token: str) -> Subscriber | None:
    """The subscriber an unsubscribe or preferences link names, or None for a bad link."""
    try:
        payload = _read(settings, purpose, token, None)
    except TokenInvalid:
        return None
    with db.session() as session:
        sub = session.get(Subscriber, payload["sid"])
    if sub is None or sub.status == "erased":
        return None
    # Preferences show personal data: only the current nonce opens them.
    if purpose == "preferences" and sub.token_nonce != payload["n"]:
        return None
    return sub


def unsubscribe(
    db: Database, subscriber_id: int, how: str, now: datetime, ip: str | None = None
) -> Outcome:
    """Stop mail at once and record the withdrawal; repeating it changes nothing."""
    if how not in WITHDRAW_HOW:
        raise ValueError(f"unknown withdrawal channel {how!r}")
    with db.session() as session:
        sub = session.scalar(
            select(Subscriber).where(Subscriber.id == subscriber_id).with_for_update()
        )
        if sub is None or sub.status == "erased":
            return Outcome("bad-link")
        if sub.status == "unsubscribed":
            return Outcome("already", sub.id)
        previous = sub.status
        if previous in ("pending", "confirmed"):
            sub.status = "unsubscribed"
        sub.unsubscribed_at, sub.updated_at = now, now
        session.add(
            ConsentEvent(
                subscriber_id=sub.id,
                kind="withdraw",
                at=now,
                ip=ip,
                detail={"how": how, "previous": previous},
            )
        )
        return Outcome("done", sub.id)


def update_preferences(
    db: Database,
    subscriber_id: int,
    now: datetime,
    *,
    first_name: str | object | None = UNCHANGED,
    paused: bool | None = None,
    ip: str | None = None,
) -> Outcome:
    """Change the greeting name or pause mail; each change is recorded."""
    keep_name = first_name is UNCHANGED
    name = None if keep_name else clean_first_name(first_name)  # type: ignore[arg-type]
    with db.session() as session:
        sub = session.scalar(
            select(Subscriber).where(Subscriber.id == subscriber_id).with_for_update()
        )
        if sub is None or sub.status == "erased":
            return Outcome("bad-link")
        changes: dict[str, Any] = {}
        if not keep_name and name != sub.first_name:
            changes["first_name"] = "changed" if name else "removed"
            sub.first_name = name
        if paused is not None and paused != sub.paused:
            changes["paused"] = paused
            sub.paused = paused
        if not changes:
            return Outcome("already", sub.id)
        sub.updated_at = now
        session.add(
            ConsentEvent(subscriber_id=sub.id, kind="preferences", at=now, ip=ip, detail=changes)
        )
        return Outcome("done", sub.id)


def consent_events(session: Session, subscriber_id: int) -> list[ConsentEvent]:
    """A reader's consent record, oldest first: the proof of every signup and withdrawal."""
    query = (
        select(ConsentEvent)
        .where(ConsentEvent.subscriber_id == subscriber_id)
        .order_by(ConsentEvent.at, ConsentEvent.id)
    )
    return list(session.scalars(query))


def export_data(db: Database, subscriber_id: int) -> dict[str, Any]:
    """Everything stored about one reader, as JSON-ready data (the right of access)."""
    with db.session() as session:
        sub = session.get(Subscriber, subscriber_id)
        if sub is None or sub.status == "erased":
            return {}
        events = consent_events(session, subscriber_id)
        mails = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.subscriber_id == subscriber_id)
            .order_by(OutboxMessage.id)
        ).all()
        clicks = _reader_clicks(session, subscriber_id)

    def when(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "subscriber": {
            "email": sub.email,
            "first_name": sub.first_name,
            "status": sub.status,
            "paused": sub.paused,
            "joined_via": sub.origin,
            "created_at": when(sub.created_at),
            "confirmed_at": when(sub.confirmed_at),
            "unsubscribed_at": when(sub.unsubscribed_at),
        },
        "consent_events": [
            {
                "kind": e.kind,
                "at": when(e.at),
                "ip": e.ip,
                "user_agent": e.user_agent,
                "form_version": e.form_version,
                "consent_text_hash": e.consent_text_hash,
                "origin": e.origin,
                "captcha_provider": e.captcha_provider,
                "captcha_result": e.captcha_result,
                "detail": e.detail,
            }
            for e in events
        ],
        "messages": [
            {"kind": m.kind, "subject": m.subject, "created_at": when(m.created_at)} for m in mails
        ],
        "clicks": [  # only kept when the operator counts clicks per reader
            {
                "digest": period,
                "link": title,
                "clicks": count,
                "first_at": when(first),
                "last_at": when(last),
            }
            for period, title, count, first, last in clicks
        ],
    }


def _reader_clicks(session: Session, subscriber_id: int) -> list[tuple]:
    """(issue, link title, clicks, first, last) for each digest link this reader followed."""
    story = (ReaderClick.kind == "story") & (DigestItem.id == ReaderClick.item_id)
    related = (ReaderClick.kind == "related") & (DigestRelated.id == ReaderClick.item_id)
    return list(
        session.execute(
            select(
                Digest.period_key,
                func.coalesce(DigestItem.title, DigestRelated.title, ""),
                ReaderClick.clicks,
                ReaderClick.first_at,
                ReaderClick.last_at,
            )
            .join(Digest, Digest.id == ReaderClick.digest_id)
            .outerjoin(DigestItem, story)
            .outerjoin(DigestRelated, related)
            .where(ReaderClick.subscriber_id == subscriber_id, ReaderClick.clicks > 0)
            .order_by(Digest.period_key, ReaderClick.kind, ReaderClick.item_id)
        ).all()
    )


def forget(
    db: Database, subscriber_id: int, now: datetime, ip: str | None = None, by: str = "reader"
) -> Outcome:
    """Erase a reader: no personal data left, the address only as a hash in suppressions."""
    with db.session() as session:
        sub = session.scalar(
            select(Subscriber).where(Subscriber.id == subscriber_id).with_for_update()
        )
        if sub is None or sub.status == "erased":
            return Outcome("already", subscriber_id)
        if sub.email:  # `by` (reader or operator) is kept as the suppression's source
            suppress(session, sub.email, "erased", now, source=by, keep_address=False)
        sub.email = None
        sub.email_hash = secrets.token_hex(32)  # the suppression holds the real hash
        sub.first_name = None
        sub.status, sub.paused = "erased", False
        sub.token_nonce = _nonce()
        sub.updated_at = sub.unsubscribed_at = now
        session.execute(
            update(ConsentEvent)
            .where(ConsentEvent.subscriber_id == subscriber_id)
            .values(ip=None, user_agent=None, origin=None, detail=None)
        )
        _scrub_outbox(session, OutboxMessage.subscriber_id == subscriber_id)
        session.execute(delete(ReaderClick).where(ReaderClick.subscriber_id == subscriber_id))
        session.add(
            ConsentEvent(subscriber_id=subscriber_id, kind="erase", at=now, detail={"by": by})
        )
        return Outcome("done", subscriber_id)


def forget_suppressed_address(db: Database, email: str, now: datetime, by: str) -> bool:
    """Erase an address we hold only on the suppression list (and in mail queued to it):
    the hash stays so it is still never mailed. False when nothing with it is stored."""
    with db.session() as session:
        row = find_suppression(session, email)
        if row is None or row.reason == "erased":
            return False
        suppress(session, email, "erased", now, source=by, keep_address=False)
        _scrub_outbox(session, OutboxMessage.recipient == email)
        return True


def _scrub_outbox(session: Session, which) -> None:
    """Cancel the erased reader's waiting mail, then blank every copy (in that order: `which`
    may match on the address being blanked)."""
    session.execute(
        update(OutboxMessage)
        .where(which, OutboxMessage.status == "pending")
        .values(status="cancelled", last_error="erased at the reader's request")
    )
    session.execute(
        update(OutboxMessage)
        .where(which)
        .values(recipient="erased", subject="erased", text="", html=None, headers=None)
    )


def prune_consent_ips(db: Database, settings: Settings, now: datetime) -> int:
    """Drop IP addresses older than MAILER_IP_RETENTION_DAYS; the scheduler calls this daily."""
    cutoff = now - timedelta(days=settings.ip_retention_days)
    with db.session() as session:
        result = session.execute(
            update(ConsentEvent)
            .where(ConsentEvent.at < cutoff, ConsentEvent.ip.is_not(None))
            .values(ip=None)
        )
        return result.rowcount or 0
