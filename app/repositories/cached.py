"""Write-through cache: every row of a SQL database held in this process's memory.

Reads come from the memory repositories alone; a write goes to the durable database first and,
only once it has succeeded, to the memory copy (an update's copy takes the row as the database
returned it). For a file that one process alone may open
(DuckDB), the copy is exact: no other writer can change the file behind it. Writes by raw SQL
on the file are not seen while the cache is open.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Generic, ParamSpec, TypeVar

from app.models import AttemptWindow, FileRecord, Project, RefreshToken, Session, User
from app.repositories import sql
from app.repositories.base import (
    FileRepository,
    LoginAttemptRepository,
    ProjectRepository,
    Repository,
    SessionRepository,
    UserRepository,
)
from app.repositories.memory import (
    MemoryDatabase,
    MemoryFileRepository,
    MemoryLoginAttemptRepository,
    MemoryProjectRepository,
    MemoryRepository,
    MemorySessionRepository,
    MemoryUserRepository,
)

P = ParamSpec("P")
R = TypeVar("R")
Row = TypeVar("Row", User, Project)
Durable = TypeVar("Durable", bound=Repository)


def load(engine: sql.SqlDatabase) -> MemoryDatabase:
    """A fresh memory copy of every table; it only fills memory (no write reaches `engine`)."""
    memory = MemoryDatabase()
    users, projects, files = (
        MemoryUserRepository(memory),
        MemoryProjectRepository(memory),
        MemoryFileRepository(memory),
    )
    for user in sql.SqlUserRepository.table.read_all(engine):
        users.add_user(user)
    for project in sql.SqlProjectRepository.table.read_all(engine):
        projects.load_project(project)
    for record in sql.SqlFileRepository.table.read_all(engine):
        files.load_file(record)
    memory.sessions = {s.id: s for s in sql.SqlSessionRepository.table.read_all(engine)}
    memory.refresh_tokens = {
        t.token_hash: t for t in sql.SqlSessionRepository.tokens.read_all(engine)
    }
    memory.attempts = {a.key: a for a in sql.SqlLoginAttemptRepository.table.read_all(engine)}
    return memory


class CachedDatabase:
    """A SQL database and its copy in memory. `lock` makes a write's durable half and memory
    half one step for other threads, so the copy applies writes in the order the file did."""

    def __init__(self, engine: sql.SqlDatabase) -> None:
        self.engine = engine
        self.memory = load(engine)
        self.lock = threading.Lock()

    def repositories(
        self,
    ) -> tuple[
        UserRepository,
        ProjectRepository,
        FileRepository,
        SessionRepository,
        LoginAttemptRepository,
    ]:
        """The five repositories over this copy and the database (cheap: no I/O)."""
        return (
            CachedUserRepository(sql.SqlUserRepository(self.engine), self),
            CachedProjectRepository(sql.SqlProjectRepository(self.engine), self),
            CachedFileRepository(sql.SqlFileRepository(self.engine), self),
            CachedSessionRepository(sql.SqlSessionRepository(self.engine), self),
            CachedLoginAttemptRepository(sql.SqlLoginAttemptRepository(self.engine), self),
        )


class _WriteThrough(MemoryRepository, Generic[Durable]):
    """A memory repository (the reads it inherits) whose writes reach `durable` first.

    A subclass overrides every write of its interface and names the methods it reads from
    memory in `reads`; one the interface gains later is refused when the class is created,
    rather than silently written to memory alone."""

    reads: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        interface = {
            name for base in cls.__mro__ for name in getattr(base, "__abstractmethods__", ())
        }
        missing = interface - cls.reads - set(cls.__dict__) - {"ping"}
        if missing:
            raise TypeError(f"{cls.__name__} neither writes through nor reads: {sorted(missing)}")

    def __init__(self, durable: Durable, cache: CachedDatabase) -> None:
        super().__init__(cache.memory)
        self.durable = durable
        self.cache = cache

    def ping(self) -> None:
        self.durable.ping()

    def _write(
        self,
        durable: Callable[P, R],
        memory: Callable[P, object],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """The durable write, then the same on the memory copy; if the durable write raises,
        the copy is left as it was and the error goes to the caller unchanged."""
        with self.cache.lock:
            result = durable(*args, **kwargs)
            memory(*args, **kwargs)
        return result

    def _write_back(
        self,
        durable: Callable[P, Row],
        keep: Callable[[Row], object],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Row:
        """The durable update, then the row as it stored it into the memory copy, so the
        copy holds what the file holds, not a second application of the change."""
        with self.cache.lock:
            stored = durable(*args, **kwargs)
            keep(stored)
        return stored


class CachedUserRepository(_WriteThrough[UserRepository], MemoryUserRepository):
    reads = frozenset({"get_user", "get_user_by_email", "list_users"})

    def add_user(self, user: User) -> User:
        return self._write(self.durable.add_user, super().add_user, user)

    def update_user_fields(self, user_id: str, changes: Mapping[str, Any]) -> User:
        return self._write_back(
            self.durable.update_user_fields, self._store_changed, user_id, changes
        )

    def delete_user(self, user_id: str) -> bool:
        return self._write(self.durable.delete_user, super().delete_user, user_id)


class CachedProjectRepository(_WriteThrough[ProjectRepository], MemoryProjectRepository):
    reads = frozenset({"get_project", "get_projects_by_user"})

    def add_project(self, project: Project) -> Project:
        """The database judges the owner; the copy keeps what it stored."""
        return self._write(self.durable.add_project, self.load_project, project)

    def update_project_fields(
        self,
        project_id: str,
        owner_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> Project:
        return self._write_back(
            self.durable.update_project_fields,
            self._store_changed,
            project_id,
            owner_id,
            changes,
            expected_version=expected_version,
        )

    def replace_project(self, project: Project) -> Project:
        return self._write_back(self.durable.replace_project, self._store_changed, project)

    def delete_project(self, project_id: str, owner_id: str) -> bool:
        return self._write(
            self.durable.delete_project, super().delete_project, project_id, owner_id
        )


class CachedFileRepository(_WriteThrough[FileRepository], MemoryFileRepository):
    reads = frozenset({"get_file", "list_files"})

    def add_file(self, record: FileRecord) -> FileRecord:
        """The database judges the project; the copy keeps what it stored."""
        return self._write(self.durable.add_file, self.load_file, record)

    def delete_file(self, project_id: str, file_id: str) -> bool:
        return self._write(self.durable.delete_file, super().delete_file, project_id, file_id)

    def delete_project_files(self, project_id: str) -> list[FileRecord]:
        return self._write(
            self.durable.delete_project_files, super().delete_project_files, project_id
        )


class CachedSessionRepository(_WriteThrough[SessionRepository], MemorySessionRepository):
    reads = frozenset({"get_session", "get_session_with_user"})

    def add_session(self, session: Session, token: RefreshToken) -> None:
        self._write(self.durable.add_session, super().add_session, session, token)

    def add_refresh_token(self, token: RefreshToken) -> None:
        self._write(self.durable.add_refresh_token, super().add_refresh_token, token)

    def use_refresh_token(self, token_hash: str) -> tuple[RefreshToken | None, bool]:
        return self._write(self.durable.use_refresh_token, super().use_refresh_token, token_hash)

    def revoke_session(self, session_id: str) -> bool:
        return self._write(self.durable.revoke_session, super().revoke_session, session_id)

    def revoke_user_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        return self._write(
            self.durable.revoke_user_sessions, super().revoke_user_sessions, user_id, keep=keep
        )

    def delete_user_sessions(self, user_id: str) -> None:
        self._write(self.durable.delete_user_sessions, super().delete_user_sessions, user_id)

    def purge_expired(self, now: datetime) -> int:
        return self._write(self.durable.purge_expired, super().purge_expired, now)


class CachedLoginAttemptRepository(
    _WriteThrough[LoginAttemptRepository], MemoryLoginAttemptRepository
):
    reads = frozenset({"get_window"})

    def record_failure(self, key: str, now: datetime, window_start: datetime) -> AttemptWindow:
        return self._write(
            self.durable.record_failure, super().record_failure, key, now, window_start
        )

    def remove_failure(self, key: str) -> None:
        self._write(self.durable.remove_failure, super().remove_failure, key)

    def clear(self, key: str) -> None:
        self._write(self.durable.clear, super().clear, key)

    def purge_lapsed(self, window_start: datetime) -> int:
        return self._write(self.durable.purge_lapsed, super().purge_lapsed, window_start)
