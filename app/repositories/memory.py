"""Repositories in dicts: for tests and notebooks, behaving exactly like the real backends."""

from __future__ import annotations

import threading
from bisect import bisect_left, insort
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from app.errors import EmailAlreadyRegistered, NotFound
from app.models import (
    ActionToken,
    AttemptWindow,
    FileRecord,
    Page,
    PageKey,
    Project,
    RefreshToken,
    Session,
    TokenPurpose,
    User,
    new_id,
)
from app.repositories.base import (
    PROJECT_FIELDS,
    USER_FIELDS,
    ActionTokenRepository,
    FileRepository,
    LoginAttemptRepository,
    ProjectRepository,
    Repositories,
    SessionRepository,
    UserRepository,
    checked_changes,
    project_update_refused,
    replacement,
)

if TYPE_CHECKING:
    from app.core.config import Settings

LOCATION_SETTING = None
ONE_PROCESS = True

Item = TypeVar("Item", User, Project, FileRecord)
Row = TypeVar("Row", bound=BaseModel)


def newest_first_page(items: Iterable[Item], limit: int, after: PageKey | None) -> Page[Item]:
    """Order by (created_at, id) descending and cut one page after `after`."""
    ordered = sorted(items, key=lambda item: (item.created_at, item.id), reverse=True)
    if after is not None:
        ordered = [item for item in ordered if (item.created_at, item.id) < after]
    page = ordered[:limit]
    more = len(ordered) > limit
    next_key = PageKey(page[-1].created_at, page[-1].id) if more and page else None
    return Page(items=page, next_key=next_key)


class NewestFirst:
    """The (created_at, id) keys of a group of items, kept sorted, so that a newest-first page
    costs O(log n + limit) instead of a sort of the whole group on every page."""

    def __init__(self) -> None:
        self.keys: list[PageKey] = []

    def add(self, item: Item) -> None:
        insort(self.keys, PageKey(item.created_at, item.id))

    def remove(self, item: Item) -> None:
        key = PageKey(item.created_at, item.id)
        at = bisect_left(self.keys, key)
        if at < len(self.keys) and self.keys[at] == key:
            del self.keys[at]

    def page(self, table: Mapping[str, Item], limit: int, after: PageKey | None) -> Page[Item]:
        """The same page as `newest_first_page` over the group's items in `table`."""
        end = len(self.keys) if after is None else bisect_left(self.keys, after)
        start = max(end - limit, 0)
        page = [table[key.id] for key in reversed(self.keys[start:end])]
        next_key = PageKey(page[-1].created_at, page[-1].id) if start > 0 and page else None
        return Page(items=page, next_key=next_key)


class MemoryDatabase:
    """The tables the repositories share, under one lock, like one database file."""

    def __init__(self) -> None:
        self.database_id = new_id()
        self.lock = threading.RLock()
        self.users: dict[str, User] = {}
        self.projects: dict[str, Project] = {}
        self.files: dict[str, FileRecord] = {}
        # Indexes, as a database keeps them, so a page costs its owner's items, not all items.
        self.users_by_email: dict[str, str] = {}
        self.users_newest = NewestFirst()
        self.projects_by_owner: defaultdict[str, NewestFirst] = defaultdict(NewestFirst)
        self.files_by_project: defaultdict[str, NewestFirst] = defaultdict(NewestFirst)
        self.sessions: dict[str, Session] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.attempts: dict[str, AttemptWindow] = {}
        self.action_tokens: dict[str, ActionToken] = {}


class MemoryRepository:
    """What every memory repository shares: the tables it works on."""

    def __init__(self, db: MemoryDatabase | None = None) -> None:
        self.db = db or MemoryDatabase()

    def ping(self) -> None:
        """Always reachable: it lives in this process."""

    def _select(self, table: dict[str, Row], where: Callable[[Row], bool]) -> list[Row]:
        with self.db.lock:
            return [item for item in table.values() if where(item)]


class MemoryUserRepository(MemoryRepository, UserRepository):
    def add_user(self, user: User) -> User:
        with self.db.lock:
            if user.email in self.db.users_by_email:
                raise EmailAlreadyRegistered()
            self.db.users[user.id] = user
            self.db.users_by_email[user.email] = user.id
            self.db.users_newest.add(user)
        return user

    def get_user(self, user_id: str) -> User | None:
        return self.db.users.get(user_id)

    def get_user_by_email(self, email: str) -> User | None:
        with self.db.lock:
            user_id = self.db.users_by_email.get(email)
            return None if user_id is None else self.db.users[user_id]

    def update_user_fields(self, user_id: str, changes: Mapping[str, Any]) -> User:
        values = checked_changes(changes, USER_FIELDS)
        with self.db.lock:
            current = self.db.users.get(user_id)
            if current is None:
                raise NotFound("User not found")
            return self._store_changed(current.model_copy(update=values))

    def _store_changed(self, user: User) -> User:
        """Keep a new state of a stored user (its id, email and created_at are the same, so
        no index moves)."""
        with self.db.lock:
            self.db.users[user.id] = user
        return user

    def delete_user(self, user_id: str) -> bool:
        with self.db.lock:
            user = self.db.users.pop(user_id, None)
            if user is None:
                return False
            del self.db.users_by_email[user.email]
            self.db.users_newest.remove(user)
        return True

    def list_users(
        self, *, limit: int, after: PageKey | None = None, email_prefix: str | None = None
    ) -> Page[User]:
        with self.db.lock:
            if email_prefix is None:
                return self.db.users_newest.page(self.db.users, limit, after)
            matching = self._select(self.db.users, lambda u: u.email.startswith(email_prefix))
        return newest_first_page(matching, limit, after)


class MemoryProjectRepository(MemoryRepository, ProjectRepository):
    def add_project(self, project: Project) -> Project:
        with self.db.lock:
            owner = self.db.users.get(project.owner_id)
            if owner is None or not owner.is_active:
                raise NotFound("User not found")
            return self.load_project(project)

    def load_project(self, project: Project) -> Project:
        """Keep a project as a database already stored it (filling a copy), unchecked."""
        with self.db.lock:
            self.db.projects[project.id] = project
            self.db.projects_by_owner[project.owner_id].add(project)
        return project

    def get_project(self, project_id: str) -> Project | None:
        return self.db.projects.get(project_id)

    def get_projects_by_user(
        self, user_id: str, *, limit: int, after: PageKey | None = None
    ) -> Page[Project]:
        with self.db.lock:
            owned = self.db.projects_by_owner.get(user_id) or NewestFirst()
            return owned.page(self.db.projects, limit, after)

    def update_project_fields(
        self,
        project_id: str,
        owner_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> Project:
        values = checked_changes(changes, PROJECT_FIELDS)
        with self.db.lock:
            current = self._owned(project_id, owner_id, expected_version)
            values["version"] = current.version + 1
            return self._store_changed(current.model_copy(update=values))

    def replace_project(self, project: Project) -> Project:
        with self.db.lock:
            current = self._owned(project.id, project.owner_id, None)
            return self._store_changed(current.model_copy(update=replacement(project)))

    def _owned(self, project_id: str, owner_id: str, expected_version: int | None) -> Project:
        """The stored project an update may change; NotFound or VersionMismatch otherwise."""
        current = self.db.projects.get(project_id)
        if (
            current is None
            or current.owner_id != owner_id
            or expected_version not in (None, current.version)
        ):
            raise project_update_refused(current, owner_id)
        return current

    def _store_changed(self, project: Project) -> Project:
        """Keep a new state of a stored project (its id, owner and created_at are the same, so
        no index moves)."""
        with self.db.lock:
            self.db.projects[project.id] = project
        return project

    def delete_project(self, project_id: str, owner_id: str) -> bool:
        with self.db.lock:
            current = self.db.projects.get(project_id)
            if current is None or current.owner_id != owner_id:
                return False
            del self.db.projects[project_id]
            self.db.projects_by_owner[owner_id].remove(current)
        return True


class MemoryFileRepository(MemoryRepository, FileRepository):
    def add_file(self, record: FileRecord) -> FileRecord:
        with self.db.lock:
            project = self.db.projects.get(record.project_id)
            if project is None or project.owner_id != record.owner_id:
                raise NotFound("Project not found")
            return self.load_file(record)

    def load_file(self, record: FileRecord) -> FileRecord:
        """Keep a record as a database already stored it (filling a copy), unchecked: a
        record of a deleted project stays one, for the doctor to find."""
        with self.db.lock:
            self.db.files[record.id] = record
            self.db.files_by_project[record.project_id].add(record)
        return record

    def get_file(self, project_id: str, file_id: str) -> FileRecord | None:
        record = self.db.files.get(file_id)
        return record if record is not None and record.project_id == project_id else None

    def list_files(
        self, project_id: str, *, limit: int, after: PageKey | None = None
    ) -> Page[FileRecord]:
        with self.db.lock:
            in_project = self.db.files_by_project.get(project_id) or NewestFirst()
            return in_project.page(self.db.files, limit, after)

    def delete_file(self, project_id: str, file_id: str) -> bool:
        with self.db.lock:
            record = self.get_file(project_id, file_id)
            if record is None:
                return False
            del self.db.files[file_id]
            self.db.files_by_project[project_id].remove(record)
        return True

    def delete_project_files(self, project_id: str) -> list[FileRecord]:
        with self.db.lock:
            in_project = self.db.files_by_project.pop(project_id, None) or NewestFirst()
            removed = [self.db.files.pop(key.id) for key in in_project.keys]
        return removed


class MemorySessionRepository(MemoryRepository, SessionRepository):
    def add_session(self, session: Session, token: RefreshToken) -> None:
        with self.db.lock:
            self.db.sessions[session.id] = session
            self.db.refresh_tokens[token.token_hash] = token

    def get_session(self, session_id: str) -> Session | None:
        return self.db.sessions.get(session_id)

    def get_session_with_user(self, session_id: str, user_id: str) -> tuple[Session, User] | None:
        with self.db.lock:
            session, user = self.db.sessions.get(session_id), self.db.users.get(user_id)
        if session is None or user is None or session.user_id != user_id:
            return None
        return session, user

    def add_refresh_token(self, token: RefreshToken) -> None:
        with self.db.lock:
            self.db.refresh_tokens[token.token_hash] = token

    def use_refresh_token(self, token_hash: str) -> tuple[RefreshToken | None, bool]:
        with self.db.lock:
            token = self.db.refresh_tokens.get(token_hash)
            if token is None or token.used:
                return token, False
            token = token.model_copy(update={"used": True})
            self.db.refresh_tokens[token_hash] = token
        return token, True

    def revoke_session(self, session_id: str) -> bool:
        with self.db.lock:
            session = self.db.sessions.get(session_id)
            if session is None:
                return False
            self.db.sessions[session_id] = session.model_copy(update={"revoked": True})
        return True

    def revoke_user_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        with self.db.lock:
            doomed = self._select(
                self.db.sessions,
                lambda s: s.user_id == user_id and s.id != keep and not s.revoked,
            )
            for session in doomed:
                self.db.sessions[session.id] = session.model_copy(update={"revoked": True})
        return len(doomed)

    def delete_user_sessions(self, user_id: str) -> None:
        with self.db.lock:
            for session in self._select(self.db.sessions, lambda s: s.user_id == user_id):
                del self.db.sessions[session.id]
            for token in self._select(self.db.refresh_tokens, lambda t: t.user_id == user_id):
                del self.db.refresh_tokens[token.token_hash]

    def purge_expired(self, now: datetime) -> int:
        with self.db.lock:
            usable = {
                t.session_id
                for t in self.db.refresh_tokens.values()
                if not t.used and t.expires_at > now
            }
            sessions = self._select(
                self.db.sessions,
                lambda s: s.expires_at <= now or (s.revoked and s.id not in usable),
            )
            for session in sessions:
                del self.db.sessions[session.id]
            tokens = self._select(
                self.db.refresh_tokens,
                lambda t: t.expires_at <= now or t.session_id not in self.db.sessions,
            )
            for token in tokens:
                del self.db.refresh_tokens[token.token_hash]
        return len(sessions) + len(tokens)


class MemoryLoginAttemptRepository(MemoryRepository, LoginAttemptRepository):
    def record_failure(self, key: str, now: datetime, window_start: datetime) -> AttemptWindow:
        with self.db.lock:
            current = self.db.attempts.get(key)
            if current is None or current.started_at < window_start:
                window = AttemptWindow(key=key, started_at=now, failures=1)
            else:
                window = current.model_copy(update={"failures": current.failures + 1})
            self.db.attempts[key] = window
        return window

    def remove_failure(self, key: str) -> None:
        with self.db.lock:
            current = self.db.attempts.get(key)
            if current is not None and current.failures > 0:
                self.db.attempts[key] = current.model_copy(
                    update={"failures": current.failures - 1}
                )

    def get_window(self, key: str) -> AttemptWindow | None:
        return self.db.attempts.get(key)

    def clear(self, key: str) -> None:
        with self.db.lock:
            self.db.attempts.pop(key, None)

    def purge_lapsed(self, window_start: datetime) -> int:
        with self.db.lock:
            lapsed = self._select(self.db.attempts, lambda a: a.started_at < window_start)
            for window in lapsed:
                del self.db.attempts[window.key]
        return len(lapsed)


class MemoryActionTokenRepository(MemoryRepository, ActionTokenRepository):
    def add_token(self, token: ActionToken) -> None:
        with self.db.lock:
            self.db.action_tokens[token.token_hash] = token

    def consume_token(self, token_hash: str, purpose: TokenPurpose) -> ActionToken | None:
        with self.db.lock:
            token = self.db.action_tokens.get(token_hash)
            if token is None or token.purpose != purpose:
                return None
            del self.db.action_tokens[token_hash]
        return token

    def purge_expired_tokens(self, now: datetime) -> int:
        with self.db.lock:
            expired = self._select(self.db.action_tokens, lambda t: t.expires_at <= now)
            for token in expired:
                del self.db.action_tokens[token.token_hash]
        return len(expired)


def open_repositories(settings: Settings) -> Repositories:
    """A new, empty database in this process's memory."""
    db = MemoryDatabase()
    return Repositories(
        MemoryUserRepository(db),
        MemoryProjectRepository(db),
        MemoryFileRepository(db),
        MemorySessionRepository(db),
        MemoryLoginAttemptRepository(db),
        MemoryActionTokenRepository(db),
        close=lambda: None,
        database_id=db.database_id,
    )


def locate(settings: Settings) -> tuple[str, ...]:
    """No location: the data lives in the process that opened it."""
    return ()
