"""A bounded write-through cache of a SQL database, one owner at a time.

The owners read most recently are held in this process's memory with the rows their requests
read: their user and sessions, their newest HEAD_PROJECTS projects (all of them, for most) and
those projects' files. An owner is loaded on the first read that names them (a few statements)
and the least recently read owner leaves when the rows held pass the budget, so memory and
start-up do not grow with the database. Reads of a held owner come from the memory
repositories; every other read, and a page past a held owner's newest projects, asks the
database.

A write goes to the database first and, under the database's write lock, to the copy of a held
owner, as the database returned it: the copy applies writes in the order the file did. A load
reads the database without the lock, then keeps what it read only if no write that could touch
that owner happened meanwhile (`_Writes`). For a file that one process alone may open (DuckDB),
the copy is exact: no other writer can change the file behind it. Writes by raw SQL on the file
are not seen while the cache is open.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from app.models import FileRecord, Page, PageKey, Project, RefreshToken, Session, User
from app.repositories import sql
from app.repositories.base import (
    FileRepository,
    LoginAttemptRepository,
    ProjectRepository,
    SessionRepository,
    UserRepository,
)
from app.repositories.memory import (
    MemoryDatabase,
    MemoryFileRepository,
    MemoryProjectRepository,
    MemorySessionRepository,
    NewestFirst,
)

R = TypeVar("R")

ROW_BYTES = 2048
"""What one held row is reckoned to cost: its model, its dict entries and its index key (the
budget is in bytes, the cache counts rows; docs/performance.md has the RSS this keeps to)."""
OWNER_SHARE = 4
"""An owner with more rows than the budget's 1/OWNER_SHARE is never held: their reads go to
the database, which answers every page from where its cursor is."""
HEAD_PROJECTS = 200
"""The newest projects of an owner that are held: ten pages of the default size. Loading an
owner's newest is one top-N statement, whose cost does not grow with how many they own."""
JUMPED_SHARE = 16
"""Pages read from the file for a cursor that the held projects do not reach (a jump deep into
a list, or any cursor of an owner not held) are kept for their next reads in 1/JUMPED_SHARE of
the budget, each while no write of its owner came since it was read (`jumped_page`)."""
UNHELD_OWNERS_KEPT = 4096
STRIPES = 1024


@dataclass(eq=False)
class _Owner:
    """What the copy holds of one owner, to count it and to let it go."""

    rows: int
    oldest: PageKey | None
    """The oldest project held when the owner has more than are held (None: all are): every
    project from it to the newest is held."""
    sessions: set[str] = field(default_factory=set)
    loose: set[str] = field(default_factory=set)
    """Projects held alone, older than `oldest` (a get of each): not in the listing, and
    their files are not held."""
    file_projects: set[str] = field(default_factory=set)
    """The projects the owner's files name (a record of a deleted project included)."""


class _Writes:
    """Counts of writes, per stripe of owners and for writes whose owner is not known, so a
    load can tell whether a write may have changed what it read."""

    def __init__(self) -> None:
        self.by_stripe = [0] * STRIPES
        self.unknown = 0
        self.total = 0
        """Every write, for a read whose owner is known only once it has answered."""

    def mark(self, owner_id: str | None) -> None:
        self.total += 1
        if owner_id is None:
            self.unknown += 1
        else:
            self.by_stripe[hash(owner_id) % STRIPES] += 1

    def seen(self, owner_id: str) -> tuple[int, int]:
        return self.by_stripe[hash(owner_id) % STRIPES], self.unknown


class CachedDatabase:
    """A SQL database and the held owners' rows in memory, within `budget_bytes`."""

    def __init__(self, engine: sql.SqlDatabase, budget_bytes: int) -> None:
        self.engine = engine
        self.memory = MemoryDatabase()
        self.lock = engine.write_lock
        budget_rows = max(budget_bytes // ROW_BYTES, 2)
        self.max_jumped_rows = max(budget_rows // JUMPED_SHARE, 1)
        self.max_rows = budget_rows - self.max_jumped_rows
        """Rows the held owners may fill; jumped-to pages have the rest of the budget."""
        self.owners: OrderedDict[str, _Owner] = OrderedDict()
        self.rows = 0
        self.jumped: OrderedDict[tuple[str, PageKey, int], tuple[tuple[int, int], Page[Project]]]
        self.jumped = OrderedDict()
        self.jumped_rows = 0
        self.writes = _Writes()
        self._unheld: OrderedDict[str, None] = OrderedDict()
        """Owners found too big to hold, so their reads skip the attempt (recent ones)."""
        self._repositories = (
            CachedUserRepository(sql.SqlUserRepository(engine), self),
            CachedProjectRepository(sql.SqlProjectRepository(engine), self),
            CachedFileRepository(sql.SqlFileRepository(engine), self),
            CachedSessionRepository(sql.SqlSessionRepository(engine), self),
            # Not held: the counters are read and written by logins alone.
            sql.SqlLoginAttemptRepository(engine),
        )

    def repositories(
        self,
    ) -> tuple[
        UserRepository,
        ProjectRepository,
        FileRepository,
        SessionRepository,
        LoginAttemptRepository,
    ]:
        """The five repositories over this copy and the database, the same for every opener
        (their writes share one lock)."""
        return self._repositories

    # Reads.

    def read(self, owner_id: str, held: Callable[[], R], otherwise: Callable[[], R]) -> R:
        """`held()` from memory if the owner is (or can now be) held, else `otherwise()`."""
        if self.hold(owner_id):
            with self.memory.lock:
                if owner_id in self.owners:
                    return held()
        return otherwise()

    def hold(self, owner_id: str) -> bool:
        """Whether the owner is held, loading them if they are not and may be; a read of a
        held owner makes them the most recently read. Not under `memory.lock`: a load takes
        the write lock, which comes first."""
        if self.touch(owner_id):
            return True
        if owner_id in self._unheld:
            return False
        return self._load(owner_id)

    def touch(self, owner_id: str) -> bool:
        """Whether the owner is held, making them the most recently read if so."""
        try:
            self.owners.move_to_end(owner_id)
        except KeyError:
            return False
        return True

    def _load(self, owner_id: str) -> bool:
        seen = self.writes.seen(owner_id)
        rows = _owner_rows(self.engine, owner_id, self.max_rows // OWNER_SHARE)
        if rows is None:
            return False
        user, projects, files, sessions = rows
        most = self.max_rows // OWNER_SHARE
        oldest = None
        if len(projects) > HEAD_PROJECTS:
            projects = projects[:HEAD_PROJECTS]
            oldest = PageKey(projects[-1].created_at, projects[-1].id)
        if 1 + len(projects) + len(files) + len(sessions) > most:
            with self.lock:
                self._unheld[owner_id] = None
                if len(self._unheld) > UNHELD_OWNERS_KEPT:
                    self._unheld.popitem(last=False)
            return False
        with self.lock:
            if self.writes.seen(owner_id) != seen:
                return False  # a write may have changed what was read; a later read loads
            with self.memory.lock:
                if owner_id not in self.owners:
                    self._keep(user, projects, files, sessions, oldest)
        return True

    def extend(self, owner_id: str, more: int) -> bool:
        """Hold a held owner's next `more` projects below those held (a page that reached
        past them): one top-N statement, like the load's. False if the owner is not held,
        holds them all, or would pass their share of the budget."""
        owner = self.owners.get(owner_id)
        if owner is None or owner.oldest is None:
            return False
        seen, oldest, most = self.writes.seen(owner_id), owner.oldest, self.max_rows // OWNER_SHARE
        projects = sql.SqlProjectRepository.table
        below = (
            f"{projects.select} WHERE owner_id = ? AND (created_at, id) < (?, ?) "
            "ORDER BY created_at DESC, id DESC LIMIT ?"
        )
        params = [owner_id, sql.to_text(oldest.created_at), oldest.id, more + 1]
        found = projects.to_models(self.engine.execute(below, params), self.engine)
        new = found[:more]
        records = _files_of(self.engine, new, most)
        if owner.rows + len(new) + len(records) > most:
            return False
        with self.lock:
            if (
                self.writes.seen(owner_id) != seen
                or self.owners.get(owner_id) is not owner
                or owner.oldest != oldest
            ):
                return False  # a write, or another thread's extension, came in between
            with self.memory.lock:
                listing = self.memory.projects_by_owner[owner_id]
                was_loose = owner.loose & {project.id for project in new}
                owner.loose -= was_loose
                for project in new:
                    self.memory.projects[project.id] = project
                    listing.add(project)
                self._keep_files(owner, records)
                owner.oldest = (
                    PageKey(new[-1].created_at, new[-1].id) if len(found) > more else None
                )
                self.add_rows(owner_id, owner, len(new) - len(was_loose) + len(records))
        return True

    def jumped_page(
        self, owner_id: str, limit: int, after: PageKey, read: Callable[[], Page[Project]]
    ) -> Page[Project]:
        """The page after `after` as `read` gives it from the file, kept for the next reads of
        it. A kept page is answered only while no write of its owner (its stripe of owners)
        came since it was read: the count is taken before the read, and a write counts after
        its commit, so a page that might miss one is read again."""
        key = (owner_id, after, limit)
        seen = self.writes.seen(owner_id)
        with self.memory.lock:
            kept = self.jumped.get(key)
            if kept is not None and kept[0] == seen:
                self.jumped.move_to_end(key)
                return kept[1]
        page = read()
        with self.memory.lock:
            self._drop_jumped(key)
            self.jumped[key] = (seen, page)
            self.jumped_rows += len(page.items)
            while self.jumped_rows > self.max_jumped_rows:
                self._drop_jumped(next(iter(self.jumped)))
        return page

    def _drop_jumped(self, key: tuple[str, PageKey, int]) -> None:
        kept = self.jumped.pop(key, None)
        if kept is not None:
            self.jumped_rows -= len(kept[1].items)

    def keep_loose(self, project: Project, seen: int) -> None:
        """Hold one project of a held owner that is older than their projects held (a get of
        it), if no write happened since `seen` (`_Writes.total`), taken before it was read."""
        with self.lock:
            owner = self.owners.get(project.owner_id)
            if owner is None or self.writes.total != seen:
                return
            with self.memory.lock:
                if project.id not in self.memory.projects:
                    self.memory.projects[project.id] = project
                    owner.loose.add(project.id)
                    self.add_rows(project.owner_id, owner, 1)

    def _keep(
        self,
        user: User,
        projects: list[Project],
        files: list[FileRecord],
        sessions: list[Session],
        oldest: PageKey | None,
    ) -> None:
        memory = self.memory
        owner = _Owner(rows=1 + len(projects) + len(files) + len(sessions), oldest=oldest)
        memory.users[user.id] = user
        memory.users_by_email[user.email] = user.id
        listing = memory.projects_by_owner[user.id]
        for project in projects:
            memory.projects[project.id] = project
            listing.add(project)
        self._keep_files(owner, files)
        for session in sessions:
            memory.sessions[session.id] = session
            owner.sessions.add(session.id)
        self.owners[user.id] = owner
        self.rows += owner.rows
        self._keep_within_budget(user.id)

    def _keep_files(self, owner: _Owner, records: list[FileRecord]) -> None:
        for record in records:
            self.memory.files[record.id] = record
            self.memory.files_by_project[record.project_id].add(record)
            owner.file_projects.add(record.project_id)

    def _keep_within_budget(self, keep: str) -> None:
        while self.rows > self.max_rows and len(self.owners) > 1:
            oldest = next(iter(self.owners))
            if oldest == keep:
                self.owners.move_to_end(keep)
                continue
            self.let_go(oldest)

    def let_go(self, owner_id: str) -> None:
        """Forget one owner's rows (under both locks)."""
        owner = self.owners.pop(owner_id, None)
        if owner is None:
            return
        memory = self.memory
        user = memory.users.pop(owner_id)
        memory.users_by_email.pop(user.email, None)
        for key in memory.projects_by_owner.pop(owner_id, NewestFirst()).keys:
            memory.projects.pop(key.id, None)
        for project_id in owner.loose:
            memory.projects.pop(project_id, None)
        for project_id in owner.file_projects:
            for key in memory.files_by_project.pop(project_id, NewestFirst()).keys:
                memory.files.pop(key.id, None)
        for session_id in owner.sessions:
            memory.sessions.pop(session_id, None)
        self.rows -= owner.rows

    # Writes: each runs `durable` and then `apply` (given the durable result) under the lock.

    def write(
        self,
        owner_id: str | None,
        durable: Callable[[], R],
        apply: Callable[[R], object] | None = None,
    ) -> R:
        """The durable write, then its memory half for a held owner, as one step for other
        threads; if the durable write raises, the copy is left as it was."""
        with self.lock:
            result = durable()
            self.applied(owner_id, apply, result)
        return result

    def applied(self, owner_id: str | None, apply: Callable[[R], object] | None, result: R) -> None:
        """Record a durable write of `owner_id`'s rows (None: whose is not known) and apply
        it to the copy; the caller holds the lock."""
        self.writes.mark(owner_id)
        if apply is not None:
            with self.memory.lock:
                apply(result)

    def owner_of(self, owner_id: str) -> _Owner | None:
        return self.owners.get(owner_id)

    def add_rows(self, owner_id: str, owner: _Owner, count: int) -> None:
        owner.rows += count
        self.rows += count
        if count > 0:
            self._keep_within_budget(owner_id)

    def let_go_of_everyone(self) -> None:
        """Forget every owner and every jumped-to page (under the lock)."""
        with self.memory.lock:
            for owner_id in list(self.owners):
                self.let_go(owner_id)
            self.jumped.clear()
            self.jumped_rows = 0


def _owner_rows(
    engine: sql.SqlDatabase, owner_id: str, most: int
) -> tuple[User, list[Project], list[FileRecord], list[Session]] | None:
    """An owner's rows, or None if there is no such user: their newest HEAD_PROJECTS + 1
    projects (newest first), and at most `most` + 1 of their sessions and of the files of
    the newest HEAD_PROJECTS (more than that is too many to hold)."""
    users = sql.SqlUserRepository.table
    found = engine.execute(f"{users.select} WHERE id = ?", [owner_id])
    if not found:
        return None
    projects, sessions = sql.SqlProjectRepository.table, sql.SqlSessionRepository.table
    newest = f"{projects.select} WHERE owner_id = ? ORDER BY created_at DESC, id DESC LIMIT ?"
    head = projects.to_models(engine.execute(newest, [owner_id, HEAD_PROJECTS + 1]), engine)
    theirs = f"{sessions.select} WHERE user_id = ? LIMIT ?"
    return (
        users.to_model(found[0], engine),
        head,
        _files_of(engine, head[:HEAD_PROJECTS], most),
        sessions.to_models(engine.execute(theirs, [owner_id, most + 1]), engine),
    )


def _files_of(engine: sql.SqlDatabase, projects: list[Project], most: int) -> list[FileRecord]:
    """At most `most` + 1 of these projects' files (more than that is too many to hold), all
    of one owner: the owner's column narrows the scan before the list of projects is tried."""
    if not projects:
        return []
    files = sql.SqlFileRepository.table
    marks = ", ".join("?" for _ in projects)
    statement = f"{files.select} WHERE owner_id = ? AND project_id IN ({marks}) LIMIT ?"
    params = [projects[0].owner_id, *(project.id for project in projects), most + 1]
    return files.to_models(engine.execute(statement, params), engine)


class _Cached:
    def __init__(self, cache: CachedDatabase) -> None:
        self.cache = cache
        self.memory = cache.memory

    def ping(self) -> None:
        self.cache.engine.execute("SELECT 1")


class CachedUserRepository(_Cached, UserRepository):
    def __init__(self, durable: sql.SqlUserRepository, cache: CachedDatabase) -> None:
        super().__init__(cache)
        self.durable = durable

    def add_user(self, user: User) -> User:
        """Not held until read: most new users log in (a database read) before anything."""
        return self.cache.write(user.id, lambda: self.durable.add_user(user))

    def get_user(self, user_id: str) -> User | None:
        return self.cache.read(
            user_id, lambda: self.memory.users.get(user_id), lambda: self.durable.get_user(user_id)
        )

    def get_user_by_email(self, email: str) -> User | None:
        with self.memory.lock:
            user_id = self.memory.users_by_email.get(email)
            if user_id is not None:
                return self.memory.users[user_id]
        return self.durable.get_user_by_email(email)

    def update_user_fields(self, user_id: str, changes: Mapping[str, Any]) -> User:
        def keep(user: User) -> None:
            if user.id in self.cache.owners:
                self.memory.users[user.id] = user

        return self.cache.write(
            user_id, lambda: self.durable.update_user_fields(user_id, changes), keep
        )

    def delete_user(self, user_id: str) -> bool:
        return self.cache.write(
            user_id,
            lambda: self.durable.delete_user(user_id),
            lambda _: self.cache.let_go(user_id),
        )

    def list_users(
        self, *, limit: int, after: PageKey | None = None, email_prefix: str | None = None
    ) -> Page[User]:
        return self.durable.list_users(limit=limit, after=after, email_prefix=email_prefix)


class CachedProjectRepository(_Cached, ProjectRepository):
    def __init__(self, durable: sql.SqlProjectRepository, cache: CachedDatabase) -> None:
        super().__init__(cache)
        self.durable = durable
        self.held = MemoryProjectRepository(cache.memory)

    def add_project(self, project: Project) -> Project:
        """A group commit where the engine has one: the copy is kept by whoever commits, and
        tells it whether a held owner is active."""

        def owner_active() -> bool | None:
            if self.cache.owner_of(project.owner_id) is None:
                return None
            owner = self.memory.users.get(project.owner_id)
            return None if owner is None else owner.is_active

        def keep(stored: bool) -> None:
            self.cache.applied(project.owner_id, self._keep_added, project if stored else None)

        return self.durable.add_project(project, copy=sql.HeldCopy(owner_active, keep))

    def _keep_added(self, project: Project | None) -> None:
        if project is None:
            return
        owner = self.cache.owner_of(project.owner_id)
        if owner is None or project.id in self.memory.projects:
            return
        if owner.oldest is None or PageKey(project.created_at, project.id) > owner.oldest:
            self.held.load_project(project)
            self.cache.add_rows(project.owner_id, owner, 1)

    def get_project(self, project_id: str) -> Project | None:
        """Held if its owner is; a project missing from memory may be another owner's, or a
        held owner's older than those held, who then holds every project down to it."""
        project = self.memory.projects.get(project_id)
        if project is not None:
            self.cache.touch(project.owner_id)
            return project
        seen = self.cache.writes.total
        project = self.durable.get_project(project_id)
        if project is not None and self.cache.hold(project.owner_id):
            self.cache.keep_loose(project, seen)
        return project

    def get_projects_by_user(
        self, user_id: str, *, limit: int, after: PageKey | None = None
    ) -> Page[Project]:
        def from_file() -> Page[Project]:
            return self.durable.get_projects_by_user(user_id, limit=limit, after=after)

        if after is not None and not self.cache.touch(user_id):
            # A cursor of an owner not held: loading them would not reach a deep one.
            return self.cache.jumped_page(user_id, limit, after, from_file)

        def held() -> Page[Project] | None:
            owner = self.cache.owners[user_id]
            listing = self.memory.projects_by_owner.get(user_id) or NewestFirst()
            end = len(listing.keys) if after is None else bisect_left(listing.keys, after)
            if owner.oldest is not None and end - limit <= 0:
                return None  # the page reaches past the held projects
            return listing.page(self.memory.projects, limit, after)

        page = self.cache.read(user_id, held, lambda: None)
        owner = self.cache.owners.get(user_id)
        # A page that goes on from the projects held holds the next ones, and is read there;
        # one that jumps past them (a cursor older than those held) is read from the file and
        # kept as a page: holding the owner down to it would cost a cold read several times
        # a page's.
        if (
            page is None
            and owner is not None
            and owner.oldest is not None
            and (after is None or after >= owner.oldest)
            and self.cache.extend(user_id, max(limit + 1, HEAD_PROJECTS))
        ):
            page = self.cache.read(user_id, held, lambda: None)
        if page is not None:
            return page
        if after is not None:
            return self.cache.jumped_page(user_id, limit, after, from_file)
        return from_file()

    def update_project_fields(
        self,
        project_id: str,
        owner_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> Project:
        return self.cache.write(
            owner_id,
            lambda: self.durable.update_project_fields(
                project_id, owner_id, changes, expected_version=expected_version
            ),
            self._keep_changed,
        )

    def replace_project(self, project: Project) -> Project:
        return self.cache.write(
            project.owner_id, lambda: self.durable.replace_project(project), self._keep_changed
        )

    def _keep_changed(self, project: Project) -> None:
        if project.id in self.memory.projects:
            self.memory.projects[project.id] = project

    def delete_project(self, project_id: str, owner_id: str) -> bool:
        def forget(deleted: bool) -> None:
            owner = self.cache.owner_of(owner_id)
            if deleted and owner is not None and self.held.delete_project(project_id, owner_id):
                owner.loose.discard(project_id)
                self.cache.add_rows(owner_id, owner, -1)

        return self.cache.write(
            owner_id, lambda: self.durable.delete_project(project_id, owner_id), forget
        )


class CachedFileRepository(_Cached, FileRepository):
    def __init__(self, durable: sql.SqlFileRepository, cache: CachedDatabase) -> None:
        super().__init__(cache)
        self.durable = durable
        self.held = MemoryFileRepository(cache.memory)

    def add_file(self, record: FileRecord) -> FileRecord:
        """A group commit where the engine has one: the copy is kept by whoever commits, and
        tells it whether a held project is the owner's."""

        def project_owned() -> bool | None:
            project = self.memory.projects.get(record.project_id)
            return None if project is None else project.owner_id == record.owner_id

        def keep(stored: bool) -> None:
            self.cache.applied(record.owner_id, self._keep_added, record if stored else None)

        return self.durable.add_file(record, copy=sql.HeldCopy(project_owned, keep))

    def _keep_added(self, record: FileRecord | None) -> None:
        if record is None:
            return
        owner = self.cache.owner_of(record.owner_id)
        if owner is not None and record.id not in self.memory.files:
            self.held.load_file(record)
            owner.file_projects.add(record.project_id)
            self.cache.add_rows(record.owner_id, owner, 1)

    def _held_project(self, project_id: str) -> bool:
        """Whether every file of the project is held: it is held with its owner's listing
        (under `memory.lock`)."""
        project = self.memory.projects.get(project_id)
        if project is None or not self.cache.touch(project.owner_id):
            return False
        return project_id not in self.cache.owners[project.owner_id].loose

    def get_file(self, project_id: str, file_id: str) -> FileRecord | None:
        with self.memory.lock:
            if self._held_project(project_id):
                return self.held.get_file(project_id, file_id)
        return self.durable.get_file(project_id, file_id)

    def list_files(
        self, project_id: str, *, limit: int, after: PageKey | None = None
    ) -> Page[FileRecord]:
        with self.memory.lock:
            if self._held_project(project_id):
                return self.held.list_files(project_id, limit=limit, after=after)
        return self.durable.list_files(project_id, limit=limit, after=after)

    def delete_file(self, project_id: str, file_id: str) -> bool:
        held = self.memory.files.get(file_id)

        def forget(deleted: bool) -> None:
            self._forget([held] if deleted and held is not None else [])

        owner_id = held.owner_id if held is not None else None
        return self.cache.write(
            owner_id, lambda: self.durable.delete_file(project_id, file_id), forget
        )

    def delete_project_files(self, project_id: str) -> list[FileRecord]:
        with self.cache.lock:
            removed = self.durable.delete_project_files(project_id)
            for owner_id in {record.owner_id for record in removed}:
                self.cache.applied(owner_id, self._forget, removed)
        return removed

    def _forget(self, records: Iterable[FileRecord]) -> None:
        for record in records:
            owner = self.cache.owner_of(record.owner_id)
            if owner is not None and self.held.delete_file(record.project_id, record.id):
                self.cache.add_rows(record.owner_id, owner, -1)


class CachedSessionRepository(_Cached, SessionRepository):
    """Sessions of held users are held; refresh tokens are not (a refresh reads the database,
    and a login or a refresh is rare next to the requests a session authorises)."""

    def __init__(self, durable: sql.SqlSessionRepository, cache: CachedDatabase) -> None:
        super().__init__(cache)
        self.durable = durable
        self.held = MemorySessionRepository(cache.memory)

    def add_session(self, session: Session, token: RefreshToken) -> None:
        def keep(_: object) -> None:
            owner = self.cache.owner_of(session.user_id)
            if owner is not None and session.id not in self.memory.sessions:
                self.memory.sessions[session.id] = session
                owner.sessions.add(session.id)
                self.cache.add_rows(session.user_id, owner, 1)

        self.cache.write(session.user_id, lambda: self.durable.add_session(session, token), keep)

    def get_session(self, session_id: str) -> Session | None:
        session = self.memory.sessions.get(session_id)
        return session if session is not None else self.durable.get_session(session_id)

    def get_session_with_user(self, session_id: str, user_id: str) -> tuple[Session, User] | None:
        """Every session of a held user is held, so a session missing from memory is none."""
        return self.cache.read(
            user_id,
            lambda: self.held.get_session_with_user(session_id, user_id),
            lambda: self.durable.get_session_with_user(session_id, user_id),
        )

    def add_refresh_token(self, token: RefreshToken) -> None:
        self.durable.add_refresh_token(token)

    def use_refresh_token(self, token_hash: str) -> tuple[RefreshToken | None, bool]:
        return self.durable.use_refresh_token(token_hash)

    def revoke_session(self, session_id: str) -> bool:
        held = self.memory.sessions.get(session_id)
        return self.cache.write(
            held.user_id if held is not None else None,
            lambda: self.durable.revoke_session(session_id),
            lambda _: self.held.revoke_session(session_id),
        )

    def revoke_user_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        def revoke(_: object) -> None:
            owner = self.cache.owner_of(user_id)
            for session_id in owner.sessions if owner is not None else ():
                session = self.memory.sessions[session_id]
                if session_id != keep and not session.revoked:
                    self.memory.sessions[session_id] = session.model_copy(update={"revoked": True})

        return self.cache.write(
            user_id, lambda: self.durable.revoke_user_sessions(user_id, keep=keep), revoke
        )

    def delete_user_sessions(self, user_id: str) -> None:
        def forget(_: object) -> None:
            owner = self.cache.owner_of(user_id)
            if owner is not None:
                for session_id in owner.sessions:
                    self.memory.sessions.pop(session_id, None)
                self.cache.add_rows(user_id, owner, -len(owner.sessions))
                owner.sessions.clear()

        self.cache.write(user_id, lambda: self.durable.delete_user_sessions(user_id), forget)

    def purge_expired(self, now: datetime) -> int:
        """Whose sessions went is not told, so a purge that removed any lets go of everyone
        (it runs rarely; the next reads load their owners again)."""

        def forget(purged: int) -> None:
            if purged:
                self.cache.let_go_of_everyone()

        return self.cache.write(None, lambda: self.durable.purge_expired(now), forget)
