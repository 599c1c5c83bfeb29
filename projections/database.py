"""One small SQL session over SQLite or PostgreSQL, for the read models and the key vault."""

import contextlib
import re
import select
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import unquote, urlparse

import psycopg
from eventsourcing.persistence import InterfaceError as StoreInterfaceError
from eventsourcing.persistence import OperationalError as StoreOperationalError

from ledger.errors import InvalidInputError

Row = tuple[Any, ...]

# The database went away for a moment (a restart, a cut connection): trying again later works.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    StoreOperationalError,
    StoreInterfaceError,
)


# How long a SQLite write waits for another writer's lock (a long import, a backup): less
# than gunicorn's 30-s worker timeout, so that a request that waits in vain is answered 503
# ("database is locked", see `is_locked`) instead of its worker being killed mid-answer.
SQLITE_BUSY_SECONDS = 20


def is_locked(error: BaseException) -> bool:
    """A SQLite write that gave up waiting for another writer: trying again later works."""
    return isinstance(error, sqlite3.OperationalError) and (
        "locked" in str(error) or "busy" in str(error)
    )


_INDEX_NAME = re.compile(
    r"(CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?)(\w+)", re.IGNORECASE
)


class Session:
    """Runs SQL written with `?` placeholders on either database, inside one transaction."""

    def __init__(
        self, connection: Any, dialect: str, tables: dict[str, str] | None = None, suffix: str = ""
    ) -> None:
        self._connection = connection
        self.dialect = dialect
        self._tables = tables or {}
        self._suffix = suffix
        self._names = (
            re.compile(r"\b(" + "|".join(map(re.escape, self._tables)) + r")\b")
            if self._tables
            else None
        )

    def renamed(self, tables: dict[str, str], suffix: str) -> "Session":
        """The same transaction, with SQL naming `tables` reaching their new names instead, and
        the indexes it creates named with `suffix`: how a read model's next version is built
        beside the one that serves, by the same code."""
        return Session(self._connection, self.dialect, tables, suffix)

    def _sql(self, sql: str) -> str:
        if self._names is not None:
            sql = _INDEX_NAME.sub(lambda found: found[1] + found[2] + self._suffix, sql)
            sql = self._names.sub(lambda found: self._tables[found[1]], sql)
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._connection.execute(self._sql(sql), params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._connection.cursor().executemany(self._sql(sql), rows)

    def _run(self, sql: str, params: Sequence[Any], planned_each_time: bool) -> Any:
        if planned_each_time and self.dialect == "postgresql":
            return self._connection.execute(self._sql(sql), params, prepare=False)
        return self._connection.execute(self._sql(sql), params)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Many new rows at once: `COPY … FROM STDIN` on PostgreSQL (one stream instead of a
        statement a row), one prepared INSERT run over all rows on SQLite. A row that breaks a
        constraint fails the whole call, as the first such INSERT would."""
        if not rows:
            return
        name = self._tables.get(table, table)
        if self.dialect == "sqlite":
            marks = ", ".join("?" * len(columns))
            self._connection.executemany(
                f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})", rows
            )
            return
        with self._connection.cursor().copy(
            f"COPY {name} ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)

    def upsert_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        conflict: str,
    ) -> None:
        """`INSERT … ON CONFLICT (…) DO UPDATE SET …` (`conflict`, written against `excluded`)
        for many rows that never repeat a key: one statement over arrays (`unnest`) on
        PostgreSQL, where a statement a row costs the server a parse and a plan each; one
        prepared INSERT run over all rows on SQLite. Each column holds `str` or `int`."""
        if not rows:
            return
        if self.dialect == "sqlite":
            marks = ", ".join("?" * len(columns))
            self.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) {conflict}", rows
            )
            return
        arrays = [list(values) for values in zip(*rows, strict=True)]
        types = ["bigint" if isinstance(values[0], int) else "text" for values in arrays]
        self.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest("
            f"{', '.join(f'?::{kind}[]' for kind in types)}) {conflict}",
            arrays,
        )

    def replace_rows(
        self, table: str, key: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Write whole rows, replacing those with the same `key` (the first column): a
        DELETE of those keys and `insert_rows`, where many UPDATEs would cost a statement
        each."""
        if not rows:
            return
        for condition, params in self.matching(key, [row[0] for row in rows]):
            self.execute(f"DELETE FROM {table} WHERE {condition}", params)
        self.insert_rows(table, columns, rows)

    def matching(self, column: str, values: Sequence[Any]) -> Iterator[tuple[str, list[Any]]]:
        """`(condition, params)` pairs that together select the rows whose `column` is one of
        `values`: one `= ANY(array)` on PostgreSQL (a statement with thousands of
        placeholders costs more to parse than to run), `IN` lists of 500 on SQLite."""
        if not values:
            return
        if self.dialect == "postgresql":
            yield f"{column} = ANY(?)", [list(values)]
            return
        for start in range(0, len(values), 500):
            chunk = list(values[start : start + 500])
            yield f"{column} IN ({', '.join('?' * len(chunk))})", chunk

    def query(
        self, sql: str, params: Sequence[Any] = (), planned_each_time: bool = False
    ) -> list[Row]:
        """`planned_each_time`: never a prepared statement on PostgreSQL, so that the plan
        is made for these very values (a range of a key) rather than for any value."""
        return list(self._run(sql, params, planned_each_time).fetchall())

    def one(
        self, sql: str, params: Sequence[Any] = (), planned_each_time: bool = False
    ) -> Row | None:
        row = self._run(sql, params, planned_each_time).fetchone()
        return tuple(row) if row is not None else None

    def scalar(
        self,
        sql: str,
        params: Sequence[Any] = (),
        default: Any = None,
        planned_each_time: bool = False,
    ) -> Any:
        row = self.one(sql, params, planned_each_time)
        return default if row is None or row[0] is None else row[0]


class Snapshot:
    """Reads rows, a batch at a time, from one snapshot (see `Database.snapshot`)."""

    def __init__(self, connection: Any, dialect: str) -> None:
        self._connection = connection
        self._dialect = dialect
        self._cursors = 0

    def rows(self, sql: str, size: int = 1000) -> Iterator[Row]:
        if self._dialect == "sqlite":
            cursor = self._connection.execute(sql)
        else:
            self._cursors += 1
            cursor = self._connection.cursor(name=f"fondo_snapshot_{self._cursors}")
            cursor.itersize = size
            cursor.execute(sql)
        while batch := cursor.fetchmany(size):
            yield from (tuple(row) for row in batch)


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
        if connection is not None and self.dialect == "postgresql" and _unusable(connection):
            self._discard()
            connection = None
        if connection is None:
            if self.dialect == "sqlite":
                connection = sqlite3.connect(
                    self._target,
                    timeout=SQLITE_BUSY_SECONDS,
                    isolation_level=None,
                    check_same_thread=False,
                )
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
            else:
                connection = psycopg.connect(self._target, autocommit=True)
            self._local.connection = connection
        return connection

    def _discard(self) -> None:
        """Forget this thread's connection, so that the next use opens a new one."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    @contextmanager
    def transaction(self, pipeline: bool = False) -> Iterator[Session]:
        """Everything inside commits together or not at all (writers queue on SQLite).

        `pipeline` sends PostgreSQL statements without waiting for each answer until a result
        is read: many small writes then cost one round trip instead of one each.
        """
        if self.dialect == "sqlite":
            connection = self._connection()
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield Session(connection, self.dialect)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return
        with self._postgres_transaction(pipeline=pipeline) as session:
            yield session

    def write_once(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement committed on its own, in one round trip: how many rows it wrote.
        A connection that fails (cut while idle, say) is replaced and the statement sent once
        more, so it must be one that a repeat leaves as it was (INSERT … ON CONFLICT DO
        NOTHING)."""
        try:
            return self._write(sql, params)
        except psycopg.OperationalError:
            self._discard()
            return self._write(sql, params)

    def _write(self, sql: str, params: Sequence[Any]) -> int:
        connection = self._connection()
        cursor = connection.execute(Session(connection, self.dialect)._sql(sql), params)
        return int(cursor.rowcount)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A consistent read (one snapshot) without taking the writers' lock."""
        if self.dialect == "sqlite":
            connection = self._connection()
            connection.execute("BEGIN")
            try:
                yield Session(connection, self.dialect)
            finally:
                connection.execute("ROLLBACK")
            return
        with self._postgres_transaction(
            begin="SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"
        ) as session:
            yield session

    @contextmanager
    def _postgres_transaction(
        self, pipeline: bool = False, begin: str | None = None
    ) -> Iterator[Session]:
        """A transaction on this thread's connection, which is never reused once broken.

        A connection the server cut while it sat idle (a restart, `pg_terminate_backend`)
        fails at BEGIN, before the caller's statements ran: that start is retried once on a
        new connection. A connection that breaks later fails the transaction (nothing of it is
        committed) and is replaced at the next use.
        """
        for attempt in (1, 2):
            connection = self._connection()
            opened = ExitStack()
            try:
                if pipeline:
                    opened.enter_context(connection.pipeline())
                opened.enter_context(connection.transaction())
                if begin:
                    connection.execute(begin)
                break
            except psycopg.OperationalError:
                with contextlib.suppress(Exception):
                    opened.close()
                self._discard()
                if attempt == 2:
                    raise
        try:
            with opened:
                yield Session(connection, self.dialect)
        except psycopg.OperationalError:
            self._discard()
            raise

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

    def copy_out(self, sql: str, params: Sequence[Any] = (), options: str = "") -> Iterator[bytes]:
        """PostgreSQL only: `COPY (sql) TO STDOUT` on a connection of its own, the server's
        output as it comes (one row a chunk for text and CSV), in flat memory."""
        statement = f"COPY ({sql.replace('?', '%s')}) TO STDOUT {options}"
        with (
            psycopg.connect(self._target) as server,
            server.cursor() as cursor,
            cursor.copy(statement, params) as copy,
        ):
            for chunk in copy:
                yield bytes(chunk)

    @contextmanager
    def snapshot(self) -> Iterator["Snapshot"]:
        """One consistent view of the whole database on a connection of its own, for as long
        as the block lasts, while writers carry on (SQLite WAL read transaction, PostgreSQL
        REPEATABLE READ)."""
        if self.dialect == "sqlite":
            lite = sqlite3.connect(self._target, timeout=30, isolation_level=None)
            try:
                lite.execute("BEGIN")
                yield Snapshot(lite, self.dialect)
            finally:
                lite.close()
            return
        with psycopg.connect(self._target) as server:
            server.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            yield Snapshot(server, self.dialect)
            server.rollback()

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
        self._discard()


def _unusable(connection: psycopg.Connection[Any]) -> bool:
    """Closed, broken, or cut by the server while idle: an idle connection of ours is sent
    nothing unasked, so anything waiting on its socket is the server's farewell."""
    if connection.closed or connection.broken:
        return True
    try:
        readable, _, _ = select.select([connection.fileno()], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)
