"""Group commit: concurrent single-row inserts of one statement stored by one statement.

An engine whose every statement costs far more than its rows (DuckDB) stores what threads ask
for at the same moment together. The first thread to arrive stores its row and every row that
queued up meanwhile, in one multi-row INSERT, and wakes the others with their answers; rows that
arrive while it works are stored by the next one, the first of them. Nothing waits for a batch
to fill, so a lone insert costs what it did, and each answer is given only once its row is
committed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.repositories.sql import ConditionalInsert, SqlDatabase

MAX_ROWS = 256
"""Rows per statement: the parameters of a larger one would cost more to bind than it saves."""


@dataclass(eq=False)
class _Request:
    row: list[Any]
    then: Callable[[bool], object] | None
    stored: bool = False
    error: BaseException | None = None
    done: bool = False
    woken: threading.Event = field(default_factory=threading.Event)
    """Set once the row is stored, or when the thread that asked is to store the next group."""


class GroupCommit:
    """The group commits of one database, one queue per statement. Each waiting thread sleeps
    on its own event and is woken once: with its answer, or to store the next group."""

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db
        self._queues: dict[ConditionalInsert, list[_Request]] = {}
        self._storing: set[ConditionalInsert] = set()
        self._lock = threading.Lock()

    def insert(
        self, insert: ConditionalInsert, row: list[Any], then: Callable[[bool], object] | None
    ) -> bool:
        """What `SqlDatabase.insert_where` answers, with the rows of concurrent callers."""
        request = _Request(row, then)
        with self._lock:
            self._queues.setdefault(insert, []).append(request)
            lead = insert not in self._storing
            self._storing.add(insert)
        if not lead:
            request.woken.wait()
        if not request.done:
            self._lead(insert, request)
        if request.error is not None:
            raise request.error
        return request.stored

    def _lead(self, insert: ConditionalInsert, request: _Request) -> None:
        """Store groups until this thread's own row is stored, then hand the queue on."""
        successor: _Request | None = None
        try:
            while not request.done:
                with self._lock:
                    queue = self._queues[insert]
                    group, queue[:] = queue[:MAX_ROWS], queue[MAX_ROWS:]
                self._store(insert, group)
                for stored in group:
                    if stored is not request:
                        stored.woken.set()
        finally:
            with self._lock:
                queue = self._queues[insert]
                if queue:
                    successor = queue[0]
                else:
                    self._storing.discard(insert)
            if successor is not None:
                successor.woken.set()

    def _store(self, insert: ConditionalInsert, group: list[_Request]) -> None:
        """One statement for the group, under the database's write lock with every `then`;
        if it fails, each row alone, so that one row's error is that row's answer only."""
        at = insert.columns.index("id")
        with self.db.write_lock:
            try:
                params = [value for request in group for value in request.row]
                stored = {row[0] for row in self.db.execute(insert.statement(len(group)), params)}
            except Exception as error:
                if len(group) == 1:
                    _finish(group[0], error=error)
                    return
                for request in group:
                    self._store(insert, [request])
                return
            for request in group:
                _finish(request, stored=request.row[at] in stored)


def _finish(request: _Request, *, stored: bool = False, error: BaseException | None = None) -> None:
    if error is None and request.then is not None:
        try:
            request.then(stored)
        except BaseException as failure:  # the caller's own callback: its error is its answer
            error = failure
    request.stored, request.error, request.done = stored, error, True
