"""SQLite: WAL so readers never wait for the writer, a connection per thread, busy timeout."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.repositories.base import Repositories
from app.repositories.inline import WouldBlock, inline_call
from app.repositories.sql import Row, SqlDatabase, sql_repositories

if TYPE_CHECKING:
    from app.core.config import Settings

LOCATION_SETTING = "SQLITE_PATH"
ONE_PROCESS = False

BUSY_TIMEOUT_SECONDS = 30.0
_LOCK_ERRORS = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class SQLiteDatabase(SqlDatabase):
    begin_statement = "BEGIN IMMEDIATE"
    """Takes the write lock up front, so a transaction never has to upgrade a read lock and
    fail with 'database is locked' halfway through."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._connection().execute("PRAGMA journal_mode=WAL")
        self.create_schema()

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._connect(BUSY_TIMEOUT_SECONDS)
        return connection

    def _inline_connection(self) -> sqlite3.Connection:
        """This thread's connection for calls inline on the event loop: it never waits for a
        lock (busy timeout 0), so a locked statement fails at once instead of stalling every
        request of the worker."""
        connection: sqlite3.Connection | None = getattr(self._local, "inline", None)
        if connection is None:
            connection = self._local.inline = self._connect(0)
        return connection

    def _connect(self, timeout: float) -> sqlite3.Connection:
        # Autocommit (isolation_level=None): every statement commits on its own, and
        # multi-statement work opens its own BEGIN IMMEDIATE transaction.
        connection = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        connection.execute("PRAGMA synchronous=NORMAL")
        with self._lock:
            self._connections.append(connection)
        return connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        if not inline_call.active:
            return self._connection().execute(sql, params).fetchall()
        connection = self._inline_connection()
        try:
            rows = connection.execute(sql, params).fetchall()
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode & 0xFF not in _LOCK_ERRORS:
                raise
            if not inline_call.wrote:
                # Nothing written yet (reads and the BEGIN IMMEDIATE that opens every
                # multi-statement write come before any write), so running the call again
                # elsewhere repeats nothing.
                raise WouldBlock() from None
            rows = self._waiting(connection, sql, params)
        if not sql.startswith("SELECT"):
            inline_call.wrote = True
        return rows

    def _waiting(
        self, connection: sqlite3.Connection, sql: str, params: Sequence[Any]
    ) -> list[Row]:
        """Run `sql` again on `connection`, waiting for the lock: the call has written, so it
        cannot move to the threadpool (rare: a call whose second write meets a lock)."""
        connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.execute("PRAGMA busy_timeout = 0")

    def is_unique_violation(self, error: Exception) -> bool:
        return isinstance(error, sqlite3.IntegrityError) and "UNIQUE" in str(error)

    def close(self) -> None:
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
        self._local = threading.local()


def open_repositories(settings: Settings) -> Repositories:
    return sql_repositories(SQLiteDatabase(settings.SQLITE_PATH))


def locate(settings: Settings) -> tuple[str, ...]:
    return (str(settings.SQLITE_PATH.resolve()),)
