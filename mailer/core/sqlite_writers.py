"""One writer at a time across processes, queued in the kernel instead of SQLite's sleeping retries.

SQLite lets one writer in and makes the others retry on a back-off of up to 100 ms between
tries, so under many processes the wait after a short transaction can be far longer than the
transaction. A blocking `flock` on a file beside the database wakes the next writer the moment
the lock is free. SQLite's own lock and busy timeout stay underneath for any writer that does
not use this (the sqlite3 shell, another program).
"""

from __future__ import annotations

import fcntl
import os
import threading

from sqlalchemy import event
from sqlalchemy.engine import Engine

FD_KEY = "mailer_writer_lock_fd"
HELD_KEY = "mailer_writer_lock_held"


class WriterQueue:
    """The lock file of one SQLite database, and which of this process's threads hold it."""

    def __init__(self, database_path: str) -> None:
        self.path = database_path + "-writer.lock"
        self._holders = threading.local()

    def open(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)

    def acquire(self, fd: int) -> bool:
        """Block until no other writer holds the lock; False when this thread already does."""
        if getattr(self._holders, "count", 0):
            return False  # a nested write on a second connection: leave it to SQLite's timeout
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._holders.count = 1
        return True

    def release(self, fd: int) -> None:
        self._holders.count = 0
        fcntl.flock(fd, fcntl.LOCK_UN)


def queue_writers(engine: Engine, database_path: str) -> None:
    """Wrap every transaction of `engine` (all begin IMMEDIATE) in the database's writer lock."""
    queue = WriterQueue(database_path)

    @event.listens_for(engine, "connect")
    def _open(_dbapi_connection, record):
        record.info[FD_KEY] = queue.open()

    @event.listens_for(engine, "close")
    def _close(_dbapi_connection, record):
        if FD_KEY in record.info:
            _release(record.info)
            os.close(record.info.pop(FD_KEY))

    def _release(info: dict) -> None:
        if info.pop(HELD_KEY, False):
            queue.release(info[FD_KEY])

    @event.listens_for(engine, "begin")
    def _begin(connection):
        info = connection.connection.info
        if queue.acquire(info[FD_KEY]):
            info[HELD_KEY] = True
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _release(info)
            raise

    @event.listens_for(engine, "commit")
    def _commit(connection):
        """Commit here, so the lock is let go the moment the data is in the log."""
        dbapi_connection = connection.connection.dbapi_connection
        try:
            if dbapi_connection.in_transaction:
                dbapi_connection.execute("COMMIT")
        finally:
            _release(connection.connection.info)

    @event.listens_for(engine, "rollback")
    def _rollback(connection):
        if connection.invalidated:
            return  # closing the DBAPI connection already let the lock go
        dbapi_connection = connection.connection.dbapi_connection
        try:
            if dbapi_connection is not None and dbapi_connection.in_transaction:
                dbapi_connection.execute("ROLLBACK")
        finally:
            _release(connection.connection.info)

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_connection, record):
        if record is not None and FD_KEY in record.info:
            _release(record.info)
