"""SQLite: WAL so readers never wait for the writer, a connection per thread, busy timeout."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.repositories.base import Repositories
from app.repositories.sql import Row, SqlDatabase, sql_repositories

if TYPE_CHECKING:
    from app.core.config import Settings

LOCATION_SETTING = "SQLITE_PATH"
ONE_PROCESS = False

BUSY_TIMEOUT_SECONDS = 30.0


class SQLiteDatabase(SqlDatabase):
    begin_statement = "BEGIN IMMEDIATE"
    """Takes the write lock up front, so a transaction never has to upgrade a read lock and
    fail with 'database is locked' halfway through."""

    def __init__(self, path: Path) -> None:
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
            # Autocommit (isolation_level=None): every statement commits on its own, and
            # multi-statement work opens its own BEGIN IMMEDIATE transaction.
            connection = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_SECONDS,
                isolation_level=None,
                check_same_thread=False,
            )
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
            with self._lock:
                self._connections.append(connection)
        return connection

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._connection().execute(sql, params).fetchall()

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
