"""DuckDB: one connection per process, a cursor per thread; one process per file."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import duckdb

from app.errors import BackendUnavailable, DatabaseWriteFailed
from app.repositories.base import Repositories
from app.repositories.cached import CachedDatabase
from app.repositories.group_commit import GroupCommit
from app.repositories.inline import WaitsOnLoop, inline_call, wait_for
from app.repositories.sql import (
    ConditionalInsert,
    HeldCopy,
    Row,
    SqlActionTokenRepository,
    SqlDatabase,
    sql_repositories,
)

if TYPE_CHECKING:
    from app.core.config import Settings

LOCATION_SETTING = "DUCKDB_PATH"
ONE_PROCESS = True

CONFLICT_RETRIES = 12
R = TypeVar("R")


class DuckDBDatabase(SqlDatabase):
    secondary_indexes = False
    """DuckDB's planner scans for `owner_id = ?` and even `id = ?` (EXPLAIN shows no index
    scan), so a secondary index only costs every insert and update; an older file's are dropped."""

    def __init__(self, path: Path, memory_limit_mb: int | None = None) -> None:
        super().__init__()
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._connection = duckdb.connect(str(path))
        except duckdb.IOException as error:
            raise BackendUnavailable(
                f"Cannot open DuckDB file {path}: {error}. DuckDB allows one process per file; "
                "stop the other process, or use DATABASE_TYPE=sqlite to share a file."
            ) from error
        # One thread per statement: Hangar runs point reads, small pages and single-row
        # writes, where DuckDB's parallel operators only add scheduling (docs/performance.md);
        # concurrency comes from the request threads.
        # Set, not passed as connect-time config: another duckdb.connect() to this file in
        # the process (a notebook cell) must match the open instance's config to share it.
        self._connection.execute("SET threads = 1")
        if memory_limit_mb is not None:
            self._connection.execute(f"SET memory_limit = '{int(memory_limit_mb)}MB'")
        self._local = threading.local()
        self._group_commit = GroupCommit(self)
        self.create_schema()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._connection.cursor()
            self._local.cursor = cursor
        return cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Retry write-write conflicts between threads a bounded number of times. An upsert
        that collides with a concurrent insert of the same key (not yet committed when it
        looked) fails with a constraint error instead; run again, it takes its update path.
        Inside a transaction a conflict has aborted the whole transaction, so `transaction`
        retries it, not the statement."""
        if inline_call.active and not sql.startswith("SELECT"):
            inline_call.wrote = True
        for attempt in range(CONFLICT_RETRIES):
            try:
                return self._cursor().execute(sql, list(params)).fetchall()
            except duckdb.IOException as error:
                raise self._write_failed(error) from error
            except (duckdb.TransactionException, duckdb.ConstraintException) as error:
                if isinstance(error, duckdb.ConstraintException) and "ON CONFLICT" not in sql:
                    raise
                if is_io_failure(error):
                    raise self._write_failed(error) from error
                if getattr(self._local, "in_transaction", False):
                    raise _Conflict() from error
                _back_off(attempt)
        raise AssertionError("unreachable")

    def insert_where(
        self, insert: ConditionalInsert, row: list[Any], copy: HeldCopy | None
    ) -> bool:
        """A group commit: a DuckDB statement costs far more than its rows, so concurrent
        inserts share one. A call inline on the event loop waits for it there (`wait_for`),
        not in a thread; inside a transaction, or once an inline call has written (so it
        cannot run again), the row is stored by a statement of its own, where it is."""
        if getattr(self._local, "in_transaction", False):
            return super().insert_where(insert, row, copy)
        if inline_call.can_wait:
            return wait_for(self._group_commit.queue_from_loop(insert, row, copy))
        if not inline_call.active:
            return self._group_commit.insert(insert, row, copy)
        if not inline_call.wrote:
            raise WaitsOnLoop()
        return super().insert_where(insert, row, copy)

    def transaction(self, body: Callable[[], R]) -> R:
        """Run `body` in a transaction, again from the start in a new one after a conflict
        (DuckDB aborts the whole transaction on one), a bounded number of times."""
        for attempt in range(CONFLICT_RETRIES):
            self._local.in_transaction = True
            try:
                self.execute(self.begin_statement)
                result = body()
                self.execute("COMMIT")
                return result
            except BaseException as error:
                # A failed COMMIT has already ended the transaction; nothing to roll back.
                with suppress(duckdb.Error):
                    self._cursor().execute("ROLLBACK")
                if not isinstance(error, _Conflict):
                    raise
            finally:
                self._local.in_transaction = False
            _back_off(attempt)
        raise AssertionError("unreachable")

    def _write_failed(self, error: duckdb.Error) -> DatabaseWriteFailed:
        return DatabaseWriteFailed(
            f"The DuckDB database {self.path} could not write to its disk ({error}); nothing "
            "was saved. Free space on that disk (or fix its I/O error) and try again"
        )

    def is_unique_violation(self, error: Exception) -> bool:
        return isinstance(error, duckdb.ConstraintException)

    def close(self) -> None:
        self._group_commit.close()
        self._connection.close()


_IO_FAILURES = ("could not write", "no space left", "file too large", "i/o error", "io error")


class _Conflict(Exception):
    """A write conflict inside a transaction: the transaction is aborted and runs again."""


def _back_off(attempt: int) -> None:
    """Wait before retry `attempt + 1`, or give up after the last one."""
    if attempt == CONFLICT_RETRIES - 1:
        raise BackendUnavailable(
            "The database is busy with conflicting writes; try again"
        ) from None
    # Full jitter, so the threads that collided do not collide again in step.
    time.sleep(random.uniform(0, 0.001 * 2**attempt))  # noqa: S311


def is_io_failure(error: duckdb.Error) -> bool:
    """Whether DuckDB failed on its file rather than on a concurrent write: a commit whose
    write-ahead log cannot be written is a TransactionException, like a conflict, but says
    so (`Failed to commit: Could not write file ...: No space left on device`)."""
    if isinstance(error, duckdb.IOException):
        return True
    message = str(error).lower()
    return any(marker in message for marker in _IO_FAILURES)


@dataclass
class _Shared:
    cached: CachedDatabase
    holders: int = 0


_shared: dict[Path, _Shared] = {}
_shared_lock = threading.Lock()


def open_cached(settings: Settings) -> tuple[CachedDatabase, Callable[[], None]]:
    """This process's one cache of the file, and a `close` that lets go of it.

    DuckDB shares one database instance between the connections a process opens to a file, so
    every opener here shares one cache and one write lock too (a write through another cache
    would be missing from this one). The first opener opens the file; the last close releases
    it."""
    key = settings.DUCKDB_PATH.resolve()
    with _shared_lock:
        if key not in _shared:
            _shared[key] = _Shared(_open(settings))
        shared = _shared[key]
        shared.holders += 1
    released = False

    def close() -> None:
        nonlocal released
        with _shared_lock:
            if released:
                return
            released = True
            shared.holders -= 1
            if shared.holders == 0:
                del _shared[key]
                shared.cached.engine.close()

    return shared.cached, close


def _open(settings: Settings) -> CachedDatabase:
    return CachedDatabase(_engine(settings), settings.DUCKDB_CACHE_MB * 1024 * 1024)


def _engine(settings: Settings) -> DuckDBDatabase:
    return DuckDBDatabase(settings.DUCKDB_PATH, settings.DUCKDB_MEMORY_LIMIT_MB)


def open_repositories(settings: Settings) -> Repositories:
    """The file, read through this process's cache of its recent owners unless DUCKDB_CACHE
    is off."""
    if not settings.DUCKDB_CACHE:
        return sql_repositories(_engine(settings))
    cached, close = open_cached(settings)
    # One-time tokens are read once each: they go to the file alone, past the memory copy.
    tokens = SqlActionTokenRepository(cached.engine)
    return Repositories(
        *cached.repositories(), tokens, close=close, database_id=cached.engine.database_id
    )


def locate(settings: Settings) -> tuple[str, ...]:
    return (str(settings.DUCKDB_PATH.resolve()),)
