"""SQLAlchemy engine and sessions; SQLite is tuned for many short writers, PostgreSQL as is."""

from __future__ import annotations

import logging
import select
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from mailer.core.sqlite_writers import queue_writers

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for every PostgreSQL URL, whatever driver the operator wrote."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _tune_sqlite(engine, path if path and path != ":memory:" else None)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=10)
    _drop_dead_connections(engine)
    return engine


def _drop_dead_connections(engine: Engine) -> None:
    """A pooled PostgreSQL connection the server closed (a restart, an idle timeout, an
    operator's pg_terminate_backend) is replaced before use. An idle connection has nothing
    to read, so a socket that is readable holds the server's goodbye or its EOF: checked
    without a round trip, where pool_pre_ping's SELECT 1 cost one on every checkout (a
    seventh of a signup's time)."""

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection, _record, _proxy):
        if dbapi_connection.closed or _has_unread_bytes(dbapi_connection.fileno()):
            raise DisconnectionError("the server closed this pooled connection")


def _has_unread_bytes(fd: int) -> bool:
    """poll, not select: a busy server's descriptors go past select's 1024."""
    if fd < 0:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def _tune_sqlite(engine: Engine, path: str | None) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE so writers queue, not fail."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    if path is not None:
        queue_writers(engine, path)
        return

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The engine plus a session factory; use-case functions take one of these as `db`."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error."""
        with self.sessions() as session, session.begin():
            yield session

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
                conn.rollback()
        except Exception:
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(db: Database):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to `revision`; a no-op when it is there already."""
    from alembic import command

    config = alembic_config(db)
    with db.engine.connect() as connection:
        raw = connection.connection.driver_connection if db.dialect == "sqlite" else None
        if raw is not None:  # outside any transaction, where SQLite lets this change
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                _check_foreign_keys(connection, raw)
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def _check_foreign_keys(connection, raw) -> None:
    """A batch migration rebuilds a SQLite table by dropping the old one, and with foreign keys
    on that drop would cascade into the rows that point at it; so they are off while migrating,
    and checked here, before the commit, instead."""
    if raw is None:
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the migration left rows pointing nowhere: {broken[:5]}")


def current_revision(db: Database) -> str | None:
    """Asked at every start and health check: alembic's INFO lines about its context ("Context
    impl SQLiteImpl.") belong to migrations, not to each look, so they are held back here."""
    from alembic.runtime.migration import MigrationContext

    chatty = logging.getLogger("alembic.runtime.migration")
    level = chatty.level
    chatty.setLevel(max(level, logging.WARNING))
    try:
        with db.engine.connect() as connection:
            rev = MigrationContext.configure(connection).get_current_revision()
            connection.rollback()
            return rev
    finally:
        chatty.setLevel(level)


def head_revision(db: Database) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(db)).get_current_head()
