"""One small SQL session over SQLite or PostgreSQL, for the read models and the key vault."""

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlparse

import psycopg

from ledger.errors import InvalidInputError

Row = tuple[Any, ...]


class Session:
    """Runs SQL written with `?` placeholders on either database, inside one transaction."""

    def __init__(self, connection: Any, dialect: str) -> None:
        self._connection = connection
        self.dialect = dialect

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._connection.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._connection.cursor().executemany(self._sql(sql), rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return list(self._connection.execute(self._sql(sql), params).fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row = self._connection.execute(self._sql(sql), params).fetchone()
        return tuple(row) if row is not None else None

    def scalar(self, sql: str, params: Sequence[Any] = (), default: Any = None) -> Any:
        row = self.one(sql, params)
        return default if row is None or row[0] is None else row[0]


class Database:
    """A connection per thread to the ledger's database; `transaction()` yields a Session."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = urlparse(url)
        if parsed.scheme == "sqlite":
            self.dialect = "sqlite"
            self._target = unquote(parsed.path)[1:]
        elif parsed.scheme in ("postgresql", "postgres"):
            self.dialect = "postgresql"
            self._target = url
        else:
            raise InvalidInputError(f"unsupported database URL {url!r}")
        self._local = threading.local()

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None or (self.dialect == "postgresql" and connection.closed):
            if self.dialect == "sqlite":
                connection = sqlite3.connect(self._target, timeout=30, isolation_level=None,
                                             check_same_thread=False)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA busy_timeout=30000")
            else:
                connection = psycopg.connect(self._target, autocommit=True)
            self._local.connection = connection
        return connection

    @contextmanager
    def transaction(self, pipeline: bool = False) -> Iterator[Session]:
        """Everything inside commits together or not at all (writers queue on SQLite).

        `pipeline` sends PostgreSQL statements without waiting for each answer until a result
        is read: many small writes then cost one round trip instead of one each.
        """
        connection = self._connection()
        if self.dialect == "sqlite":
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield Session(connection, self.dialect)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        elif pipeline:
            with connection.pipeline(), connection.transaction():
                yield Session(connection, self.dialect)
        else:
            with connection.transaction():
                yield Session(connection, self.dialect)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A consistent read (one snapshot) without taking the writers' lock."""
        connection = self._connection()
        if self.dialect == "sqlite":
            connection.execute("BEGIN")
            try:
                yield Session(connection, self.dialect)
            finally:
                connection.execute("ROLLBACK")
        else:
            with connection.transaction():
                connection.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield Session(connection, self.dialect)

    def stream(self, sql: str, params: Sequence[Any] = (), size: int = 1000) -> Iterator[Row]:
        """Rows one batch at a time from a connection of their own (server-side cursor on
        PostgreSQL), so that an export of any size runs in flat memory."""
        if self.dialect == "sqlite":
            lite = sqlite3.connect(self._target, timeout=30)
            try:
                rows = lite.execute(sql, params)
                while batch := rows.fetchmany(size):
                    yield from batch
            finally:
                lite.close()
            return
        with psycopg.connect(self._target) as server, server.transaction():
            cursor = server.cursor(name="fondo_stream")
            cursor.itersize = size
            cursor.execute(sql.replace("?", "%s"), params)
            yield from cursor

    @contextmanager
    def schema_lock(self) -> Iterator[None]:
        """Serialise table creation across processes (workers starting at the same moment)."""
        if self.dialect == "sqlite":
            yield
            return
        with psycopg.connect(self._target, autocommit=True) as connection:
            connection.execute("SELECT pg_advisory_lock(hashtext('fondo-schema'))")
            try:
                yield
            finally:
                connection.execute("SELECT pg_advisory_unlock(hashtext('fondo-schema'))")

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
