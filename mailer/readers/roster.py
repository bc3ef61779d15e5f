"""The operator's view of subscribers: bulk import and export, one reader's full record."""

from __future__ import annotations

import csv
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

from sqlalchemy import func, select

from mailer.core.db import Database
from mailer.core.errors import MailerError
from mailer.core.models import (
    ConsentEvent,
    Delivery,
    Digest,
    Subscriber,
    Suppression,
)
from mailer.readers import newsletters
from mailer.readers.privacy import consent_events
from mailer.readers.suppressions import address_hash, find_suppression
from mailer.readers.validation import InvalidInput, clean_first_name, normalise_email

BATCH = 2000


@dataclass
class ImportReport:
    added: int = 0
    existing: int = 0
    suppressed: int = 0
    duplicates: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)
    # (line, value, why): the address was imported, the first name the join form refuses was not
    names_dropped: list[tuple[int, str, str]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return self.added + self.existing + self.suppressed + self.duplicates + len(self.invalid)


def read_rows(handle: IO[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) from a CSV with a header that has an `email` column."""
    reader = csv.DictReader(handle)
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    if "email" not in fields:
        raise MailerError("the CSV needs a header row with an 'email' column.")
    reader.fieldnames = fields
    for row in reader:
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}


def import_subscribers(
    db: Database,
    rows: Iterable[tuple[int, dict[str, str]]],
    now: datetime,
    *,
    confirmed: bool,
    newsletter_ids: Sequence[int] = (),
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Add new addresses in batches; never touch stored ones, never re-add suppressed ones.
    Confirmed readers take `newsletter_ids` (none: the default newsletter)."""
    report = ImportReport()
    with db.session() as session:
        known = set(session.scalars(select(Subscriber.email_hash)))
        blocked = set(session.scalars(select(Suppression.email_hash)))
    seen: set[str] = set()
    pending: list[dict] = []
    status = "confirmed" if confirmed else "pending"

    def flush() -> None:
        if not pending:
            return
        with db.session() as session:
            session.execute(Subscriber.__table__.insert(), pending)
            ids = session.execute(
                select(Subscriber.id).where(
                    Subscriber.email_hash.in_([p["email_hash"] for p in pending])
                )
            ).scalars()
            ids = list(ids)
            if confirmed:  # confirmed on the operator's word: the newsletters they named
                chosen = newsletter_ids or (newsletters.default_newsletter(session).id,)
                for newsletter_id in chosen:
                    newsletters.activate_many(session, ids, newsletter_id, now)
            session.execute(
                ConsentEvent.__table__.insert(),
                [
                    {
                        "subscriber_id": sid,
                        "kind": "import",
                        "at": now,
                        "detail": {"confirmed_by_operator": confirmed},
                    }
                    for sid in ids
                ],
            )
        if progress:
            progress(len(pending))
        pending.clear()

    for line, row in rows:
        try:  # the join form's own rules, without its DNS look-up (too slow for a list)
            email = normalise_email(row.get("email", ""))
        except InvalidInput as exc:
            report.invalid.append((line, exc.message))
            continue
        raw_name = row.get("first_name") or row.get("name")
        try:  # a name the form would refuse costs the row its greeting, not its address
            name = clean_first_name(raw_name)
        except InvalidInput as exc:
            name = None
            report.names_dropped.append((line, raw_name or "", exc.message))
        digest = address_hash(email)
        if digest in blocked:
            report.suppressed += 1
        elif digest in known:
            report.existing += 1
        elif digest in seen:
            report.duplicates += 1
        else:
            seen.add(digest)
            pending.append(
                {
                    "email": email,
                    "email_hash": digest,
                    "first_name": name,
                    "status": status,
                    "paused": False,
                    "token_nonce": secrets.token_hex(8),
                    "origin": "import",
                    "soft_bounces": 0,
                    "created_at": now,
                    "updated_at": now,
                    "confirmed_at": now if confirmed else None,
                }
            )
            report.added += 1
            if len(pending) >= BATCH:
                flush()
    flush()
    return report


EXPORT_COLUMNS = ("email", "first_name", "status", "paused", "created_at", "confirmed_at")


def export_subscribers(db: Database, out: IO[str], statuses: tuple[str, ...] = ()) -> int:
    """Write subscribers as CSV (erased rows hold no address and are left out)."""
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    query = select(Subscriber).where(Subscriber.email.is_not(None)).order_by(Subscriber.id)
    if statuses:
        query = query.where(Subscriber.status.in_(statuses))
    count = 0
    with db.session() as session:
        for sub in session.scalars(query.execution_options(yield_per=2000)):
            writer.writerow(
                [
                    sub.email,
                    sub.first_name or "",
                    sub.status,
                    "yes" if sub.paused else "no",
                    sub.created_at.isoformat(),
                    sub.confirmed_at.isoformat() if sub.confirmed_at else "",
                ]
            )
            count += 1
    return count


RECENT_DELIVERIES = 5


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def suppression_of(db: Database, email: str) -> dict[str, Any] | None:
    """Why and since when an address is suppressed (found by hash, so erasures show too)."""
    with db.session() as session:
        row = find_suppression(session, email)
    if row is None:
        return None
    return {"reason": row.reason, "source": row.source, "since": _when(row.created_at)}


def describe_subscriber(
    db: Database, subscriber_id: int, now: datetime, ip_retention_days: int
) -> dict[str, Any]:
    """What an operator needs to answer a reader: state, consent proof, recent deliveries."""
    # IPs past the retention period are masked even before the daily prune drops them.
    cutoff = now - timedelta(days=ip_retention_days)
    with db.session() as session:
        sub = session.get(Subscriber, subscriber_id)
        if sub is None:
            return {}
        events = consent_events(session, subscriber_id)
        counts = dict(
            session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.subscriber_id == subscriber_id)
                .group_by(Delivery.status)
            ).all()
        )
        recent = session.execute(
            select(Digest.period_key, Delivery.status, Delivery.sent_at, Delivery.updated_at)
            .join(Digest, Digest.id == Delivery.digest_id)
            .where(Delivery.subscriber_id == subscriber_id)
            .order_by(Delivery.created_at.desc(), Delivery.id.desc())
            .limit(RECENT_DELIVERIES)
        ).all()
        taken = newsletters.taken_by(session, subscriber_id)
    return {
        "email": sub.email,
        "first_name": sub.first_name,
        "status": sub.status,
        "paused": sub.paused,
        "joined_via": sub.origin,
        "created_at": _when(sub.created_at),
        "confirmed_at": _when(sub.confirmed_at),
        "unsubscribed_at": _when(sub.unsubscribed_at),
        "suppressed": suppression_of(db, sub.email) if sub.email else None,
        "newsletters": taken,
        "consent_events": [
            {
                "kind": e.kind,
                "at": _when(e.at),
                "ip": None if e.at < cutoff else e.ip,
                "ip_expired": e.at < cutoff,
                "origin": e.origin,
                "form_version": e.form_version,
                "captcha": f"{e.captcha_provider}: {e.captcha_result}"
                if e.captcha_provider
                else None,
                "detail": e.detail,
            }
            for e in events
        ],
        "deliveries": {
            "total": sum(counts.values()),
            "by_status": dict(sorted(counts.items())),
            "recent": [
                {"digest": period, "status": status, "at": _when(sent_at or updated_at)}
                for period, status, sent_at, updated_at in recent
            ],
        },
    }
