from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select, text

from mailer.core.db import Database, current_revision, head_revision, normalise_url, upgrade
from mailer.core.models import Subscriber


def test_upgrade_is_idempotent(database_url):
    db = Database(database_url)
    assert current_revision(db) is None
    upgrade(db)
    first = current_revision(db)
    upgrade(db)
    assert current_revision(db) == first == head_revision(db)
    tables = set(inspect(db.engine).get_table_names())
    assert {"subscribers", "deliveries", "digests", "outbox", "suppressions"} <= tables
    db.dispose()


def test_sqlite_is_tuned(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30000
    db.dispose()


def test_datetimes_come_back_aware_and_in_utc(db):
    moment = datetime(2026, 3, 29, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    with db.session() as session:
        session.add(
            Subscriber(
                email="a@example.com",
                email_hash="h" * 64,
                token_nonce="n",
                created_at=moment,
                updated_at=moment,
            )
        )
    with db.session() as session:
        stored = session.scalar(select(Subscriber))
        assert stored.created_at == moment
        assert stored.created_at.tzinfo == UTC


def test_naive_datetimes_are_refused(db):
    from sqlalchemy.exc import StatementError

    with pytest.raises(StatementError, match="naive"), db.session() as session:
        session.add(
            Subscriber(
                email="b@example.com",
                email_hash="b" * 64,
                token_nonce="n",
                created_at=datetime(2026, 1, 1),
                updated_at=datetime(2026, 1, 1),
            )
        )


def test_postgres_urls_use_psycopg3():
    assert normalise_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_the_migrations_build_exactly_the_schema_the_models_describe(db):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from mailer.core.models import Base

    with db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        conn.rollback()
    assert differences == []


def test_a_pooled_connection_the_server_closed_is_replaced(postgres_server):
    """A restart or pg_terminate_backend closes pooled connections: the next checkout finds
    the server's goodbye unread on the socket and opens a fresh one, with no error and no
    SELECT 1 on every checkout."""
    url = postgres_server.create(migrated=False)
    db, admin = Database(url), Database(url)
    try:
        with db.engine.connect() as conn:
            first = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        with admin.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            gone = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
            for _ in range(1000):  # the backend exits within milliseconds
                if not conn.execute(gone, {"pid": first}).scalar():
                    break
                conn.rollback()
        with db.engine.connect() as conn:
            second = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        assert second != first
    finally:
        db.dispose()
        admin.dispose()
        postgres_server.drop(url)


def test_asking_the_revision_logs_nothing(db, caplog):
    """`mailer serve` and health checks ask often; alembic's context lines are for migrations."""
    import logging

    with caplog.at_level(logging.DEBUG):
        assert current_revision(db) == head_revision(db)
    assert [r for r in caplog.records if r.name.startswith("alembic")] == []
