"""Mirror mode's shared parts: the pairing of a primary backend with its mirror, and the journal
of mirror writes that failed (what `hangar migrate --verify` reports and `hangar migrate
--prune` from primary to mirror repairs). `app.backends` wires mirrors in."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from pydantic import BaseModel

from app.models import utc_now

logger = logging.getLogger(__name__)


class JournalEntry(BaseModel):
    kind: str
    id: str
    operation: str
    error: str
    time: datetime


class MirrorJournal:
    """JSON lines appended to one file; a lock keeps the lines of concurrent requests whole."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, kind: str, item_id: str, operation: str, error: BaseException) -> None:
        entry = JournalEntry(
            kind=kind, id=item_id, operation=operation, error=repr(error), time=utc_now()
        )
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as out:
                out.write(entry.model_dump_json() + "\n")

    def entries(self) -> list[JournalEntry]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [JournalEntry.model_validate_json(line) for line in lines if line]

    def clear_before(self, moment: datetime) -> None:
        """Forget entries older than `moment` (repaired by a run that started then); later
        ones stay, as their repair is not proven."""
        with self._lock:
            kept = [entry for entry in self.entries() if entry.time >= moment]
            if self.path.exists():
                self.path.write_text(
                    "".join(entry.model_dump_json() + "\n" for entry in kept), encoding="utf-8"
                )


class Backend(Protocol):
    @property
    def network_bound(self) -> bool: ...

    def ping(self) -> None: ...


B = TypeVar("B", bound=Backend)


class Mirrored(Generic[B]):
    """A primary and its mirror: writes go to both, the mirror's failures only to the journal."""

    kind: str

    def __init__(self, primary: B, mirror: B, journal: MirrorJournal) -> None:
        self.primary = primary
        self.mirror = mirror
        self.journal = journal
        self.network_bound = primary.network_bound or mirror.network_bound

    def ping(self) -> None:
        self.primary.ping()

    def _mirror(self, operation: str, item_id: str, write: Callable[[B], object]) -> None:
        """Repeat a write the primary has done on the mirror; a failure never reaches the
        caller, whose request the primary has already served."""
        try:
            write(self.mirror)
        except Exception as error:
            logger.warning("Mirror %s of %s %s failed: %r", operation, self.kind, item_id, error)
            self.journal.record(self.kind, item_id, operation, error)
