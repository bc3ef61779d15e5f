"""Core statements compiled once per dialect and run on the driver's cursor.

The busiest writes readers make (a signup) spent more time in SQLAlchemy's per-call work (the
execution context, parameter construction, result wrapping) than in the database. A Prepared
statement keeps SQLAlchemy for what it is good at (the SQL text for each dialect, the types'
bind processing) and skips the rest: the transaction, the writer lock and the pool stay
SQLAlchemy's, since it runs on the cursor of a Connection the caller began.
`before_cursor_execute` listeners still see every statement.
Errors are raised as SQLAlchemy's (IntegrityError, OperationalError...).

psycopg's pipeline mode (the signup's statements in three round trips instead of seven) was
tried and left out: on a local server it cost more CPU than the round trips it saved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement


class _Compiled:
    """One dialect's SQL text, the order its driver wants the values in, and each value's
    bind processor."""

    def __init__(self, statement: ClauseElement, connection: Connection) -> None:
        dialect = connection.dialect
        compiled = statement.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.defaults: dict[str, Any] = compiled.construct_params(_check=False)
        self.positions: Sequence[str] | None = (
            list(compiled.positiontup or ()) if dialect.positional else None
        )
        self.processors: dict[str, Callable[[Any], Any]] = {
            name: processor
            for name, processor in compiled._bind_processors.items()
            if processor is not None
        }

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        merged = {**self.defaults, **values}
        for name, processor in self.processors.items():
            if name in merged:
                merged[name] = processor(merged[name])
        if self.positions is None:
            return merged
        return [merged[name] for name in self.positions]


class Prepared:
    """A Core statement run with no per-call compiling; rows come back as the driver's
    tuples (no result types applied: select plain values with it)."""

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self._by_dialect: dict[str, _Compiled] = {}

    def _compiled(self, connection: Connection) -> _Compiled:
        name = connection.dialect.name
        found = self._by_dialect.get(name)
        if found is None:
            found = self._by_dialect[name] = _Compiled(self.statement, connection)
        return found

    def execute(self, connection: Connection, values: Mapping[str, Any]) -> Any:
        """Run inside the connection's transaction; returns the driver's cursor."""
        compiled = self._compiled(connection)
        parameters = compiled.parameters(values)
        cursor = connection.connection.dbapi_connection.cursor()
        hooks = connection.dispatch.before_cursor_execute
        if hooks:
            for hook in hooks:
                hook(connection, cursor, compiled.sql, parameters, None, False)
        with _as_sqlalchemy_errors(connection, compiled.sql, parameters):
            cursor.execute(compiled.sql, parameters)
        return cursor

    def first(self, connection: Connection, values: Mapping[str, Any]) -> tuple | None:
        """The first row as the driver gives it, or None."""
        cursor = self.execute(connection, values)
        try:
            return cursor.fetchone()
        finally:
            cursor.close()

    def run(self, connection: Connection, values: Mapping[str, Any]) -> None:
        """A write whose rows, if any, nobody reads."""
        self.execute(connection, values).close()


@contextmanager
def _as_sqlalchemy_errors(connection: Connection, sql: str, parameters: Any) -> Iterator[None]:
    """The driver's errors as SQLAlchemy raises them (IntegrityError, OperationalError...), so
    callers catch one family whichever way a statement ran."""
    dbapi = connection.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        raise DBAPIError.instance(
            sql, parameters, exc, dbapi.Error, dialect=connection.dialect
        ) from exc
