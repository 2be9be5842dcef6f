"""Group commit: concurrent single-row inserts of one statement stored by one statement.

An engine whose every statement costs far more than its rows (DuckDB) stores what callers ask
for at the same moment together. One writer thread per database stores every row queued, the
rows of each statement in one multi-row INSERT, and answers each caller once its row is
committed; rows that arrive while it works go in its next statement. Nothing waits for a batch
to fill, so a lone insert costs what it did plus a thread wake-up.

Callers wait in one of two ways: a thread on an event of its own (`insert`), or a call inline
on the event loop on a future (`queue_from_loop`), so that a request takes no thread of the
threadpool while its row waits; the answers of one statement reach each loop in one wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.repositories.inline import Wait
    from app.repositories.sql import ConditionalInsert, HeldCopy, SqlDatabase

MAX_ROWS = 256
"""Rows per statement, so that one caller's answer never waits behind an unbounded queue."""


@dataclass(eq=False)
class _Request:
    insert: ConditionalInsert
    row: list[Any]
    copy: HeldCopy | None
    future: asyncio.Future[bool] | None = None
    """Set for a caller on an event loop, resolved there; a thread waits on `answered`."""
    stored: bool = False
    error: BaseException | None = None
    finished: bool = False
    """Its answer is set (`_finish`); `answered` tells its caller."""
    answered: threading.Event = field(default_factory=threading.Event)

    def block(self) -> bool:
        """Wait for the answer in this thread (`app.repositories.inline.Wait`)."""
        self.answered.wait()
        if self.error is not None:
            raise self.error
        return self.stored


@dataclass(frozen=True)
class _OnLoop:
    """A row queued from the event loop, as `app.repositories.inline.Wait`."""

    future: asyncio.Future[bool]
    block: Callable[[], bool]


class GroupCommit:
    """The group commits of one database and the thread that stores them, started with the
    first insert and stopped by `close` once every queued row is stored."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db
        self._queue: list[_Request] = []
        self._ready = threading.Condition()
        self._writer: threading.Thread | None = None
        self._closed = False

    def insert(self, insert: ConditionalInsert, row: list[Any], copy: HeldCopy | None) -> bool:
        """What `SqlDatabase.insert_where` answers, with the rows of concurrent callers."""
        request = _Request(insert, row, copy)
        self._enqueue(request)
        return request.block()

    def queue_from_loop(
        self, insert: ConditionalInsert, row: list[Any], copy: HeldCopy | None
    ) -> Wait[bool]:
        """The same answer as `insert`, resolved on the running event loop."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        request = _Request(insert, row, copy, future)
        self._enqueue(request)
        return _OnLoop(future, request.block)

    def close(self) -> None:
        """Store what is queued, then stop the writer."""
        with self._ready:
            self._closed = True
            self._ready.notify()
            writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join()

    def _enqueue(self, request: _Request) -> None:
        with self._ready:
            if self._closed:
                raise RuntimeError("The database is closed")
            self._queue.append(request)
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write, name="hangar-group-commit", daemon=True
                )
                self._writer.start()
            self._ready.notify()

    def _write(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:
                    return
                insert = self._queue[0].insert
                group = [r for r in self._queue if r.insert is insert][:MAX_ROWS]
                taken = set(map(id, group))
                self._queue = [r for r in self._queue if id(r) not in taken]
            try:
                self._store(insert, group)
            except BaseException as error:  # every caller is answered, whatever happens here
                for request in group:
                    if not request.finished:
                        _finish(request, error=error)
            _answer(group)

    def _store(self, insert: ConditionalInsert, group: list[_Request]) -> None:
        """Under the database's write lock, with each copy's calls around the write: the rows
        whose parents a copy holds in one unchecked statement, those it does not in one that
        checks, and none for a parent known to be gone."""
        with self.db.write_lock:
            known = [_parent_known(request) for request in group]
            unchecked = [r for r, there in zip(group, known, strict=True) if there]
            checked = [r for r, there in zip(group, known, strict=True) if there is None]
            for request, there in zip(group, known, strict=True):
                if there is False and not request.finished:
                    _finish(request, stored=False)
            if unchecked:
                self._run(insert.unnested_unchecked, unchecked, returns=False)
            if checked:
                self._run(insert.unnested, checked, returns=True)

    def _run(self, statement: str, group: list[_Request], *, returns: bool) -> None:
        """One statement for these rows; if it fails, each row alone, so that one row's error
        is that row's answer only. A statement that `returns` answers the ids it stored."""
        at = group[0].insert.columns.index("id")
        columns = [list(column) for column in zip(*(request.row for request in group), strict=True)]
        try:
            rows = self.db.execute(statement, columns)
        except Exception as error:
            if len(group) == 1:
                _finish(group[0], error=error)
                return
            for request in group:
                self._run(statement, [request], returns=returns)
            return
        stored = {row[0] for row in rows} if returns else set(columns[at])
        for request in group:
            _finish(request, stored=request.row[at] in stored)


def _parent_known(request: _Request) -> bool | None:
    """What the request's copy knows of its row's parent; a copy that fails to tell answers
    the request with its error (and no statement stores the row)."""
    if request.copy is None:
        return None
    try:
        return request.copy.parent()
    except Exception as error:  # the caller's own callback: its error is its answer
        _finish(request, error=error)
        return False


def _finish(request: _Request, *, stored: bool = False, error: BaseException | None = None) -> None:
    if error is None and request.copy is not None:
        try:
            request.copy.then(stored)
        except BaseException as failure:  # the caller's own callback: its error is its answer
            error = failure
    request.stored, request.error, request.finished = stored, error, True


def _answer(group: list[_Request]) -> None:
    """Wake each thread, and each event loop once for all of its callers."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Request]] = {}
    for request in group:
        request.answered.set()
        if request.future is not None:
            by_loop.setdefault(request.future.get_loop(), []).append(request)
    for loop, requests in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a loop closed meanwhile: no one waits there
            loop.call_soon_threadsafe(_resolve, requests)


def _resolve(requests: list[_Request]) -> None:
    for request in requests:
        future = request.future
        if future is None or future.done():  # its caller was cancelled meanwhile
            continue
        if request.error is not None:
            future.set_exception(request.error)
        else:
            future.set_result(request.stored)
