"""SQLite writers queue on a kernel lock beside the database, held as long as a transaction."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
from pathlib import Path

import pytest
from sqlalchemy import text

from mailer.core.db import Database


def lock_is_free(path: Path) -> bool:
    """Whether another writer could take the lock right now (asked without waiting)."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


@pytest.fixture
def sqlite_db(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        conn.execute(text("INSERT INTO counter VALUES (0)"))
    yield db
    db.dispose()


def test_the_lock_is_held_from_begin_to_commit_and_to_rollback(sqlite_db, tmp_path):
    lock = tmp_path / "w.db-writer.lock"
    assert lock_is_free(lock)
    with sqlite_db.session() as session:
        session.execute(text("UPDATE counter SET n = n + 1"))
        assert not lock_is_free(lock)
    assert lock_is_free(lock)
    with pytest.raises(RuntimeError), sqlite_db.session() as session:
        session.execute(text("UPDATE counter SET n = n + 1"))
        assert not lock_is_free(lock)
        raise RuntimeError("the caller's error rolls the transaction back")
    assert lock_is_free(lock)
    with sqlite_db.engine.connect() as conn:  # a connection with no transaction holds nothing
        assert lock_is_free(lock)
        conn.rollback()
    with sqlite_db.engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar() == 1


def test_a_connection_closed_inside_a_transaction_lets_go(sqlite_db, tmp_path):
    conn = sqlite_db.engine.connect()
    conn.begin()
    conn.execute(text("UPDATE counter SET n = n + 1"))
    assert not lock_is_free(tmp_path / "w.db-writer.lock")
    conn.invalidate()
    assert lock_is_free(tmp_path / "w.db-writer.lock")
    conn.rollback()
    conn.close()


def _count_up(url: str, times: int, errors) -> None:
    db = Database(url)
    try:
        for _ in range(times):
            with db.session() as session:
                n = session.execute(text("SELECT n FROM counter")).scalar()
                session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
    except Exception as exc:  # reported to the parent, which fails the test
        errors.put(repr(exc))
    finally:
        db.dispose()


def test_processes_writing_at_once_lose_no_update(sqlite_db, tmp_path):
    url = f"sqlite:///{tmp_path / 'w.db'}"
    errors = multiprocessing.get_context("fork").Queue()
    workers = [
        multiprocessing.get_context("fork").Process(target=_count_up, args=(url, 150, errors))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0]
    assert errors.empty()
    with sqlite_db.engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM counter")).scalar() == 450
