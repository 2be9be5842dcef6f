"""Repository interfaces every database backend implements.

Sync, not async, on purpose: sqlite3, duckdb and boto3 are blocking libraries, and a plain
method is what a notebook cell or a test calls without an event loop. The HTTP layer decides
where a call runs (`app.dependencies.call`): inline on the event loop for embedded engines, whose
statements take well under a millisecond (a thread hop would cost more than the query), and
in the threadpool for network backends, which must never block the loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from app.errors import NotFound, VersionMismatch
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
    utc_now,
)

if TYPE_CHECKING:
    from app.core.config import Settings

PAGE_SIZE = 100
T = TypeVar("T")

USER_FIELDS = frozenset({"full_name", "password_hash", "is_active", "is_verified", "is_superuser"})
"""The fields of a user an update may change; id, email and created_at never change."""
PROJECT_FIELDS = frozenset({"name", "description", "updated_at"})
"""The fields of a project an update may change; its version moves by itself."""


def checked_changes(changes: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    """`changes` as a dict; ValueError if it is empty or names a field outside `allowed`, so a
    backend only ever writes columns it was meant to."""
    if not changes or not set(changes) <= allowed:
        raise ValueError(
            f"An update sets one or more of the fields {sorted(allowed)}, not {sorted(changes)}"
        )
    return dict(changes)


def replacement(project: Project) -> dict[str, Any]:
    """What `replace_project` writes: every field of PROJECT_FIELDS, and the version."""
    return {name: getattr(project, name) for name in [*sorted(PROJECT_FIELDS), "version"]}


def project_update_refused(found: Project | None, owner_id: str) -> NotFound | VersionMismatch:
    """Why a conditional project update wrote nothing, judged from the project as it is now:
    gone or someone else's (NotFound, exactly alike), or at another version."""
    if found is None or found.owner_id != owner_id:
        return NotFound("Project not found")
    return VersionMismatch(found.version)


def every(fetch: Callable[..., Page[T]]) -> Iterator[T]:
    """Every item of a paged listing (`fetch` takes `limit` and `after`), page by page."""
    after: PageKey | None = None
    while True:
        page = fetch(limit=PAGE_SIZE, after=after)
        yield from page.items
        if page.next_key is None:
            return
        after = page.next_key


class Repository(ABC):
    """What every repository shares: how it is reached and how its health is checked."""

    network_bound: ClassVar[bool] = False
    """True when calls cross a network, so the HTTP layer runs them off the event loop."""

    @abstractmethod
    def ping(self) -> None:
        """Touch the backing store; raise if it cannot answer."""


class UserRepository(Repository):
    @abstractmethod
    def add_user(self, user: User) -> User:
        """Store a complete user; raise EmailAlreadyRegistered if the email is taken."""

    def create_user(
        self,
        email: str,
        password_hash: str,
        full_name: str | None = None,
        *,
        is_verified: bool = False,
        is_superuser: bool = False,
    ) -> User:
        """Store a new user with a fresh id and timestamp; unverified unless said otherwise."""
        user = User(
            id=new_id(),
            email=email,
            password_hash=password_hash,
            full_name=full_name,
            created_at=utc_now(),
            is_verified=is_verified,
            is_superuser=is_superuser,
        )
        return self.add_user(user)

    @abstractmethod
    def get_user(self, user_id: str) -> User | None:
        """The user with this id, or None."""

    @abstractmethod
    def get_user_by_email(self, email: str) -> User | None:
        """The user with this (already normalised) email, or None."""

    @abstractmethod
    def update_user_fields(self, user_id: str, changes: Mapping[str, Any]) -> User:
        """Set only `changes` (of USER_FIELDS) in one atomic write and return the user as now
        stored: every other field keeps what is stored, whoever wrote it since this caller
        read the user. NotFound if there is none (never an upsert)."""

    def replace_user(self, user: User) -> User:
        """Overwrite every field of USER_FIELDS with `user`'s: what `hangar migrate` means by
        updating a user. A request changes only what it was asked to (`update_user_fields`)."""
        return self.update_user_fields(user.id, {name: getattr(user, name) for name in USER_FIELDS})

    @abstractmethod
    def delete_user(self, user_id: str) -> bool:
        """Remove a user and free their email; False if there was none."""

    @abstractmethod
    def list_users(
        self, *, limit: int, after: PageKey | None = None, email_prefix: str | None = None
    ) -> Page[User]:
        """Users newest first, a page at a time (for administration and migration); with
        `email_prefix`, only those whose (normalised) email starts with it."""


class ProjectRepository(Repository):
    @abstractmethod
    def add_project(self, project: Project) -> Project:
        """Store a complete project, in one atomic write conditional on its owner existing and
        being active: NotFound (nothing stored) otherwise, so no project outlives its owner."""

    def create_project(self, user_id: str, name: str, description: str | None = None) -> Project:
        """Store a new project owned by `user_id`."""
        now = utc_now()
        project = Project(
            id=new_id(),
            owner_id=user_id,
            name=name,
            description=description,
            created_at=now,
            updated_at=now,
        )
        return self.add_project(project)

    @abstractmethod
    def get_project(self, project_id: str) -> Project | None:
        """The project with this id, whoever owns it, or None."""

    @abstractmethod
    def get_projects_by_user(
        self, user_id: str, *, limit: int, after: PageKey | None = None
    ) -> Page[Project]:
        """One owner's projects, newest first."""

    @abstractmethod
    def update_project_fields(
        self,
        project_id: str,
        owner_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> Project:
        """Set only `changes` (of PROJECT_FIELDS) and add one to the version, in one atomic
        write, and return the project as now stored; other fields keep what is stored. With
        `expected_version`, only while the stored version is that one, else VersionMismatch.
        NotFound if the project is missing or not `owner_id`'s (never an upsert)."""

    @abstractmethod
    def replace_project(self, project: Project) -> Project:
        """Overwrite every field of PROJECT_FIELDS and the version with `project`'s, for
        `hangar migrate`, whose copies keep their versions (and so clients' ETags); NotFound
        if the project is missing or has another owner."""

    @abstractmethod
    def delete_project(self, project_id: str, owner_id: str) -> bool:
        """Remove the project if it exists and belongs to `owner_id`."""


class FileRepository(Repository):
    @abstractmethod
    def add_file(self, record: FileRecord) -> FileRecord:
        """Store the metadata of a file whose bytes are already in storage, in one atomic write
        conditional on its project existing and being `record.owner_id`'s: NotFound (nothing
        stored) otherwise, so no record outlives its project."""

    @abstractmethod
    def get_file(self, project_id: str, file_id: str) -> FileRecord | None:
        """The file with this id in this project, or None."""

    @abstractmethod
    def list_files(
        self, project_id: str, *, limit: int, after: PageKey | None = None
    ) -> Page[FileRecord]:
        """A project's files, newest first."""

    @abstractmethod
    def delete_file(self, project_id: str, file_id: str) -> bool:
        """Remove one file's metadata; False if there was none."""

    @abstractmethod
    def delete_project_files(self, project_id: str) -> list[FileRecord]:
        """Remove the metadata of every file of a project and return what was removed."""


class SessionRepository(Repository):
    """Login sessions and their refresh tokens, kept in the database so that revocation holds
    across every instance of the service."""

    @abstractmethod
    def add_session(self, session: Session, token: RefreshToken) -> None:
        """Store a new session with its first refresh token."""

    @abstractmethod
    def get_session(self, session_id: str) -> Session | None:
        """The session with this id, revoked or not, or None."""

    @abstractmethod
    def get_session_with_user(self, session_id: str, user_id: str) -> tuple[Session, User] | None:
        """A session of `user_id` and that user, in one read: this runs on every request."""

    @abstractmethod
    def add_refresh_token(self, token: RefreshToken) -> None:
        """Store the successor of a rotated refresh token."""

    @abstractmethod
    def use_refresh_token(self, token_hash: str) -> tuple[RefreshToken | None, bool]:
        """Mark a refresh token used, atomically. Returns the token (None if unknown) and
        whether this call was its first use; a second use means the token was replayed."""

    @abstractmethod
    def revoke_session(self, session_id: str) -> bool:
        """Revoke one session; False if there was none."""

    @abstractmethod
    def revoke_user_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        """Revoke every session of a user except `keep`; return how many were revoked."""

    @abstractmethod
    def delete_user_sessions(self, user_id: str) -> None:
        """Forget every session and refresh token of a user (account deletion)."""

    @abstractmethod
    def purge_expired(self, now: datetime) -> int:
        """Forget what no request can use any more: sessions whose `expires_at` has passed
        `now`, revoked sessions none of whose refresh tokens is still unused and unexpired,
        and refresh tokens past `expires_at` or of a session that is gone. A used token of a
        live session stays, so its replay is still caught. Returns how many rows went."""


class LoginAttemptRepository(Repository):
    """Counters of failed logins, shared by every instance through the database."""

    @abstractmethod
    def record_failure(self, key: str, now: datetime, window_start: datetime) -> AttemptWindow:
        """Count one failure under `key`, atomically; a window that began before
        `window_start` has lapsed and restarts at `now` with one failure."""

    @abstractmethod
    def get_window(self, key: str) -> AttemptWindow | None:
        """The current counter under `key`, if any."""

    @abstractmethod
    def remove_failure(self, key: str) -> None:
        """Take back one failure counted under `key`, atomically and never below zero (an
        attempt counted before its password was checked that turned out right)."""

    @abstractmethod
    def clear(self, key: str) -> None:
        """Forget the failures under `key` (after a successful login)."""

    @abstractmethod
    def purge_lapsed(self, window_start: datetime) -> int:
        """Forget every window that began before `window_start` (it counts nothing any more,
        `record_failure` would restart it); returns how many went."""


class ActionTokenRepository(Repository):
    """One-time tokens mailed to users (`ActionToken`), shared by every instance through the
    database, so a token works once whichever instance it reaches."""

    @abstractmethod
    def add_token(self, token: ActionToken) -> None:
        """Store a new token."""

    @abstractmethod
    def consume_token(self, token_hash: str, purpose: TokenPurpose) -> ActionToken | None:
        """Remove the token with this hash and purpose and return it, in one atomic write: of
        concurrent consumers of one token exactly one gets it, the others None, as for an
        unknown token. Expired or not: its expiry is the caller's to judge."""

    @abstractmethod
    def purge_expired_tokens(self, now: datetime) -> int:
        """Forget the tokens whose `expires_at` has passed `now`; returns how many went."""


@dataclass
class Repositories:
    """The repositories of one database, how to release it, and its identity."""

    user_repo: UserRepository
    project_repo: ProjectRepository
    file_repo: FileRepository
    session_repo: SessionRepository
    attempt_repo: LoginAttemptRepository
    token_repo: ActionTokenRepository
    close: Callable[[], None]
    database_id: str
    """Random, made with the database and stored in it: the same data has the same id wherever
    it is opened from, and storage records it to know whose bytes it holds."""


class DatabaseModule(Protocol):
    """What a database backend's module offers `app.backends`, which finds it by name."""

    LOCATION_SETTING: str | None
    """The setting that says where its data lives (what `hangar migrate`'s `type:location`
    sets), or None for a database without a location."""
    ONE_PROCESS: bool
    """True when only one process may serve it (`hangar serve --workers` is refused)."""

    def open_repositories(self, settings: Settings) -> Repositories: ...

    def locate(self, settings: Settings) -> tuple[str, ...]:
        """Where its data lives: equal answers are the same data."""
        ...
