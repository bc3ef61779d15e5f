"""Prepared statements write what SQLAlchemy would, on SQLite and PostgreSQL alike."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, event, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from mailer.core.models import CaptchaSolution, ConsentEvent, Subscriber
from mailer.core.prepared import Prepared

SOLUTIONS = CaptchaSolution.__table__


def _spend(dialect: str) -> Prepared:
    insert_for = pg_insert if dialect == "postgresql" else sqlite_insert
    return Prepared(
        insert_for(SOLUTIONS)
        .values(solution_hash=bindparam("h"), expires_at=bindparam("at"))
        .on_conflict_do_nothing()
        .returning(SOLUTIONS.c.solution_hash)
    )


def test_a_datetime_is_stored_as_sqlalchemy_stores_it(db):
    """Aware times in any zone are bound by the column type's own processor, so SQL that
    compares them with values written by the ORM (text on SQLite) finds them."""
    moment = datetime(2026, 11, 25, 13, 0, 0, 120, tzinfo=timezone(timedelta(hours=1)))
    spend = _spend(db.dialect)
    with db.engine.begin() as conn:
        assert spend.first(conn, {"h": "a" * 64, "at": moment}) == ("a" * 64,)
    with db.session() as session:
        session.add(CaptchaSolution(solution_hash="b" * 64, expires_at=moment))
    with db.engine.connect() as conn:
        found = conn.execute(
            select(SOLUTIONS.c.solution_hash).where(SOLUTIONS.c.expires_at == moment)
        ).all()
        stored = conn.execute(select(SOLUTIONS.c.expires_at)).scalars().all()
    assert sorted(row[0] for row in found) == ["a" * 64, "b" * 64]
    assert stored == [moment.astimezone(UTC)] * 2


def test_a_conflict_returns_no_row_and_writes_nothing(db):
    spend = _spend(db.dialect)
    at = datetime(2026, 11, 26, tzinfo=UTC)
    with db.engine.begin() as conn:
        assert spend.first(conn, {"h": "c" * 64, "at": at}) is not None
        assert spend.first(conn, {"h": "c" * 64, "at": at}) is None
    with db.engine.connect() as conn:
        assert conn.execute(select(SOLUTIONS.c.id)).all() == [(1,)]


def test_json_and_literal_values_are_bound(db, now):
    """A JSON column goes through its serializer; a value written into the statement (the
    literal 'signup') is bound from the compiled defaults."""
    with db.session() as session:
        reader = Subscriber(
            email="r@example.com",
            email_hash="r" * 64,
            token_nonce="n",
            created_at=now,
            updated_at=now,
        )
        session.add(reader)
        session.flush()
        reader_id = reader.id
    events = ConsentEvent.__table__
    record = Prepared(
        insert(events).values(
            subscriber_id=bindparam("sid"),
            kind="signup",
            at=bindparam("at"),
            detail=bindparam("detail"),
        )
    )
    with db.engine.begin() as conn:
        record.run(conn, {"sid": reader_id, "at": now, "detail": {"newsletters": ["a", "é"]}})
    with db.session() as session:
        stored = session.scalars(select(ConsentEvent)).one()
    assert (stored.kind, stored.at, stored.detail) == ("signup", now, {"newsletters": ["a", "é"]})


def test_listeners_see_every_statement(db):
    """Tools that watch the engine (the same-work test, tracing) keep seeing these."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with db.engine.begin() as conn:
            _spend(db.dialect).first(conn, {"h": "d" * 64, "at": datetime.now(UTC)})
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert [s for s in seen if "captcha_solutions" in s and s.startswith("INSERT")]


def test_a_driver_error_is_raised_as_sqlalchemy_raises_it(db):
    """Callers catch SQLAlchemy's IntegrityError whichever way the statement ran, and the
    transaction keeps none of its writes."""
    spend = _spend(db.dialect)
    at = datetime(2026, 11, 26, tzinfo=UTC)
    broken = Prepared(insert(SOLUTIONS).values(solution_hash=bindparam("h"), expires_at=None))
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        spend.first(conn, {"h": "f" * 64, "at": at})
        broken.run(conn, {"h": "g" * 64})
    with db.engine.connect() as conn:
        assert conn.execute(select(SOLUTIONS.c.solution_hash)).scalars().all() == []
