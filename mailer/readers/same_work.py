"""Writes that take the same statement whether they write a row or not, so a signup's work
(and time) does not depend on the address's state."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Boolean, Connection, bindparam, exists, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from mailer.core.models import ConsentEvent, OutboxMessage, Subscriber, Suppression
from mailer.core.prepared import Prepared

_TABLES = {
    "subscribers": Subscriber.__table__,
    "consent_events": ConsentEvent.__table__,
    "outbox_messages": OutboxMessage.__table__,
}
_COLUMNS = {
    "subscribers": (
        "email",
        "email_hash",
        "first_name",
        "language",
        "status",
        "paused",
        "token_nonce",
        "origin",
        "soft_bounces",
        "created_at",
        "updated_at",
    ),
    "consent_events": (
        "subscriber_id",
        "kind",
        "at",
        "ip",
        "user_agent",
        "form_version",
        "consent_text_hash",
        "origin",
        "captcha_provider",
        "captcha_result",
        "detail",
    ),
    "outbox_messages": (
        "kind",
        "subscriber_id",
        "recipient",
        "subject",
        "text",
        "html",
        "headers",
        "message_id",
        "status",
        "attempts",
        "next_attempt_at",
        "created_at",
    ),
}


@functools.cache
def _insert_when(dialect: str, table_name: str) -> Prepared:
    """INSERT INTO t (...) SELECT :a, :b ... WHERE :go_ - one row or none, the same statement
    either way; subscribers also skip a stored address (ON CONFLICT DO NOTHING) and a
    suppressed one (NOT EXISTS in suppressions). Built once."""
    table = _TABLES[table_name]
    columns = _COLUMNS[table_name]
    row = select(*(bindparam(c, type_=table.c[c].type) for c in columns))
    row = row.where(bindparam("go_", type_=Boolean()))
    if table_name != "subscribers":
        return Prepared(insert(table).from_select(columns, row))
    suppressed = exists().where(Suppression.email_hash == bindparam("email_hash"))
    row = row.where(~suppressed)
    insert_for = pg_insert if dialect == "postgresql" else sqlite_insert
    return Prepared(insert_for(table).from_select(columns, row).on_conflict_do_nothing())


def insert_when(conn: Connection, table_name: str, values: dict[str, Any], go: bool) -> None:
    """Insert `values` into the table when `go` is true; the same statement runs either way."""
    _insert_when(conn.dialect.name, table_name).run(conn, {**values, "go_": go})
