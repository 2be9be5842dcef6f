"""The repositories for SQL engines, written once over a tiny engine interface.

DuckDB and SQLite speak the same SQL for everything Hangar needs (`?` parameters, RETURNING,
IF NOT EXISTS), so each engine module only supplies connections and error translation.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter

from app.errors import EmailAlreadyRegistered, NotFound
from app.models import (
    FIRST_VERSION,
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

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS users (
        id VARCHAR PRIMARY KEY,
        email VARCHAR NOT NULL UNIQUE,
        password_hash VARCHAR NOT NULL,
        full_name VARCHAR,
        is_active BOOLEAN NOT NULL,
        created_at VARCHAR NOT NULL,
        is_verified BOOLEAN NOT NULL DEFAULT TRUE,
        is_superuser BOOLEAN NOT NULL DEFAULT FALSE)""",
    f"""CREATE TABLE IF NOT EXISTS projects (
        id VARCHAR PRIMARY KEY,
        owner_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        description VARCHAR,
        created_at VARCHAR NOT NULL,
        updated_at VARCHAR NOT NULL,
        version INTEGER NOT NULL DEFAULT {FIRST_VERSION})""",
    """CREATE TABLE IF NOT EXISTS files (
        id VARCHAR PRIMARY KEY,
        project_id VARCHAR NOT NULL,
        owner_id VARCHAR NOT NULL,
        filename VARCHAR NOT NULL,
        content_type VARCHAR NOT NULL,
        size BIGINT NOT NULL,
        sha256 VARCHAR NOT NULL,
        storage_key VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS sessions (
        id VARCHAR PRIMARY KEY,
        user_id VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL,
        expires_at VARCHAR NOT NULL,
        revoked BOOLEAN NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS refresh_tokens (
        token_hash VARCHAR PRIMARY KEY,
        session_id VARCHAR NOT NULL,
        user_id VARCHAR NOT NULL,
        expires_at VARCHAR NOT NULL,
        used BOOLEAN NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS login_attempts (
        key VARCHAR PRIMARY KEY,
        started_at VARCHAR NOT NULL,
        failures INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS action_tokens (
        token_hash VARCHAR PRIMARY KEY,
        purpose VARCHAR NOT NULL,
        user_id VARCHAR NOT NULL,
        expires_at VARCHAR NOT NULL,
        fingerprint VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS meta (
        key VARCHAR PRIMARY KEY,
        value VARCHAR NOT NULL)""",
)
DATABASE_ID = "database_id"
"""The `meta` row naming this database (`Repositories.database_id`)."""
ADDED_COLUMNS = (
    ("projects", "version", f"INTEGER NOT NULL DEFAULT {FIRST_VERSION}"),
    ("users", "is_verified", "BOOLEAN NOT NULL DEFAULT TRUE"),
    ("users", "is_superuser", "BOOLEAN NOT NULL DEFAULT FALSE"),
)
"""Columns the tables gained after files were first written: opening an older file adds them,
and its rows read the default (every project stored before versions is at the first one, every
user stored before verification is verified, as they could already log in, and none is an
administrator)."""
SECONDARY_INDEXES = {
    # Every column: SQLite answers a page of projects from the index alone, without reading
    # the table (docs/performance.md).
    "projects_listing": (
        "projects (owner_id, created_at, id, name, description, updated_at, version)"
    ),
    "files_by_project": "files (project_id, created_at, id)",
    "sessions_by_user": "sessions (user_id)",
    "refresh_tokens_by_user": "refresh_tokens (user_id)",
    # The purge asks, per session, whether a token of it is still usable.
    "refresh_tokens_by_session": "refresh_tokens (session_id)",
}
RETIRED_INDEXES = ("projects_by_owner", "projects_page")
"""Indexes older files may have that a SECONDARY_INDEXES entry replaces (`projects_page`
covered every column of projects until `version` was added)."""

Row = tuple[Any, ...]
KNOWN_ROWS_PER_TABLE = 4096
Model = TypeVar("Model", User, Project, FileRecord)
Stored = TypeVar("Stored", bound=BaseModel)
R = TypeVar("R")


@dataclass(frozen=True)
class ConditionalInsert:
    """An INSERT that stores each of its rows only while the row's parent exists: `parent`
    is a table and a condition on it over the new row's columns, named `candidate.<column>`.
    Written for one row or for many, so an engine can store concurrent ones in one statement."""

    table: str
    columns: tuple[str, ...]
    parent: str
    condition: str

    def _insert(self, candidates: str, *, checked: bool = True) -> str:
        columns = ", ".join(self.columns)
        insert = f"INSERT INTO {self.table} ({columns}) "
        if not checked:
            return insert + candidates
        return (
            f"WITH candidate ({columns}) AS ({candidates}) {insert}SELECT {columns} FROM "
            f"candidate WHERE EXISTS (SELECT 1 FROM {self.parent} WHERE {self.condition}) "
            "RETURNING id"
        )

    @property
    def statement(self) -> str:
        """The INSERT of one row, its values in order: it returns the id if it stored it."""
        return self._insert("VALUES (" + ", ".join("?" for _ in self.columns) + ")")

    @property
    def unnested(self) -> str:
        """The INSERT of any number of rows, given as one list per column (DuckDB's `unnest`):
        it returns the ids it stored. Its text does not grow with the rows, and a few list
        parameters cost an engine less to bind and plan than many single values."""
        return self._insert(self._unnest())

    @property
    def unnested_unchecked(self) -> str:
        """`unnested` for rows whose parents are known to be there (`HeldCopy.parent`): it
        stores them all, without the check's join."""
        return self._insert(self._unnest(), checked=False)

    def _unnest(self) -> str:
        return "SELECT " + ", ".join("unnest(?)" for _ in self.columns)


@dataclass(frozen=True)
class HeldCopy:
    """A copy of some of the database's rows kept up to date by a conditional insert: both of
    its calls run under the database's write lock, around the write, so the copy sees writes
    in the order the database made them."""

    parent: Callable[[], bool | None]
    """Whether the new row's parent is there and qualifies, as the copy holds it, or None if
    the copy does not hold it. A known answer lets an engine skip its own check."""
    then: Callable[[bool], object]
    """Apply the answer, whether the row was stored."""


def to_text(moment: datetime) -> str:
    """Fixed-width UTC ISO text, so string order is time order in every engine."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def to_column(value: Any) -> Any:
    """A model's value as its column holds it: timestamps as `to_text`."""
    return to_text(value) if isinstance(value, datetime) else value


class SqlDatabase(ABC):
    """One database file: runs statements and turns engine errors into domain errors."""

    def __init__(self) -> None:
        self.write_lock = threading.RLock()
        """Held by a cache of this database around each write and its own copy of it."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement as its own transaction and return its rows."""

    begin_statement: ClassVar[str] = "BEGIN TRANSACTION"

    def transaction(self, body: Callable[[], R]) -> R:
        """Run `body`'s statements as one transaction: they commit together, or none does.
        An engine whose transactions conflict runs `body` again in a new transaction (as
        DuckDB does), so `body` runs statements and nothing else."""
        self.execute(self.begin_statement)
        try:
            result = body()
            self.execute("COMMIT")
        except BaseException:
            self.execute("ROLLBACK")
            raise
        return result

    def insert_where(
        self, insert: ConditionalInsert, row: list[Any], copy: HeldCopy | None
    ) -> bool:
        """Run `insert` for one row: whether it was stored; `copy.then` gets that answer
        before any later write. This engine always checks the parent itself."""
        with self.write_lock:
            stored = bool(self.execute(insert.statement, row))
            if copy is not None:
                copy.then(stored)
        return stored

    def execute_all(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Run several statements, with their parameters, in one transaction: all or none."""

        def run() -> None:
            for sql, params in statements:
                self.execute(sql, params)

        self.transaction(run)

    @abstractmethod
    def is_unique_violation(self, error: Exception) -> bool:
        """Whether `error` is the engine's unique-constraint failure."""

    @abstractmethod
    def close(self) -> None:
        """Release the file."""

    secondary_indexes: ClassVar[bool] = True
    """Whether to keep SECONDARY_INDEXES; an engine whose planner does not use them would only
    pay for them on every insert, so it drops them (primary keys and UNIQUE stay)."""

    database_id: str
    """Set by `create_schema`, from the `meta` table."""

    @cached_property
    def known_rows(self) -> dict[str, dict[Row, Any]]:
        """The models this database's rows were read as, per table (`Table.to_models`): a
        row of another database, however equal, is not the same item."""
        return {}

    def create_schema(self) -> None:
        """Create what is missing, the database's id included (the first opener's wins)."""
        kept = SECONDARY_INDEXES if self.secondary_indexes else {}
        created = [f"CREATE INDEX IF NOT EXISTS {name} ON {on}" for name, on in kept.items()]
        dropped = [f"DROP INDEX IF EXISTS {name}" for name in SECONDARY_INDEXES if not kept]
        retired = [f"DROP INDEX IF EXISTS {name}" for name in RETIRED_INDEXES]
        identify = (
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
            (DATABASE_ID, new_id()),
        )

        def upgrade() -> None:
            for statement in [*SCHEMA, *retired, *dropped]:
                self.execute(statement)
            for table, column, definition in ADDED_COLUMNS:
                if column not in {row[1] for row in self.execute(f"PRAGMA table_info('{table}')")}:
                    self.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
            for statement in created:
                self.execute(statement)
            self.execute(*identify)

        # One transaction, so a second process opening an older file waits for the first's
        # upgrade. Indexes go before a column is added (DuckDB cannot alter an indexed table)
        # and come after it (SQLite's cover it).
        self.transaction(upgrade)
        [(self.database_id,)] = self.execute("SELECT value FROM meta WHERE key = ?", [DATABASE_ID])


class Table(Generic[Stored]):
    """How one model maps to one table."""

    def __init__(self, name: str, model: type[Stored]) -> None:
        self.name = name
        self.model: type[Stored] = model
        self.columns = list(model.model_fields)
        self.select = f"SELECT {', '.join(self.columns)} FROM {name}"
        self.returning = f"RETURNING {', '.join(self.columns)}"
        marks = ", ".join("?" for _ in self.columns)
        self.insert = f"INSERT INTO {name} ({', '.join(self.columns)}) VALUES ({marks})"
        self._many: TypeAdapter[list[Stored]] = TypeAdapter(list[model])  # type: ignore[valid-type]

    def to_row(self, item: BaseModel) -> list[Any]:
        return [to_column(getattr(item, column)) for column in self.columns]

    def to_model(self, row: Row, db: SqlDatabase) -> Stored:
        return self.to_models([row], db)[0]

    def to_models(self, rows: list[Row], db: SqlDatabase) -> list[Stored]:
        """Each distinct row of `db` is validated once: models are frozen, so equal rows can
        share one, and the rows a server reads are mostly the ones it read a moment ago, so a
        page is mostly lookups. New rows are validated in one call. The cache starts over
        when a result would overfill it, and a result larger than it is not kept. Other
        threads share the cache and may clear it at any moment, so the result comes from what
        this call found and validated, never a second lookup."""
        if len(rows) > KNOWN_ROWS_PER_TABLE:
            return self._validate(rows)
        known: dict[Row, Stored] | None = db.known_rows.get(self.name)
        if known is None:
            known = db.known_rows.setdefault(self.name, {})
        try:
            return [known[row] for row in rows]
        except KeyError:
            pass
        models: dict[Row, Stored] = {}
        new: list[Row] = []
        for row in dict.fromkeys(rows):
            model = known.get(row)
            if model is None:
                new.append(row)
            else:
                models[row] = model
        fresh = dict(zip(new, self._validate(new), strict=True))
        if len(known) + len(fresh) > KNOWN_ROWS_PER_TABLE:
            known.clear()
        known.update(fresh)
        models.update(fresh)
        return [models[row] for row in rows]

    def _validate(self, rows: list[Row]) -> list[Stored]:
        return self._many.validate_python(
            [dict(zip(self.columns, row, strict=True)) for row in rows]
        )


class _SqlRepository(Generic[Stored]):
    table: Table[Stored]

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    def ping(self) -> None:
        self.db.execute("SELECT 1")

    def _one(self, where: str, params: Sequence[Any]) -> Stored | None:
        rows = self.db.execute(f"{self.table.select} WHERE {where}", params)
        return self.table.to_model(rows[0], self.db) if rows else None

    def _insert(self, item: Stored) -> Stored:
        self.db.execute(self.table.insert, self.table.to_row(item))
        return item

    def _insert_if(self, item: Stored, insert: ConditionalInsert, copy: HeldCopy | None) -> bool:
        """Insert `item` only while its parent row exists, in one statement (so no delete of
        the parent lands between the check and the write): whether it was. `copy` is kept
        up to date as part of the write (`SqlDatabase.insert_where`)."""
        return self.db.insert_where(insert, self.table.to_row(item), copy)

    def _set(
        self, values: Mapping[str, Any], where: str, params: Sequence[Any], *also: str
    ) -> Stored | None:
        """One UPDATE of the columns in `values` (and the assignments `also`) of the row
        `where` matches: the row as now stored, or None if none matched."""
        assignments = ", ".join([*(f"{column} = ?" for column in values), *also])
        rows = self.db.execute(
            f"UPDATE {self.table.name} SET {assignments} WHERE {where} {self.table.returning}",
            [*map(to_column, values.values()), *params],
        )
        return self.table.to_model(rows[0], self.db) if rows else None


class _PagedSqlRepository(_SqlRepository[Model]):
    def _page(
        self, where: str, params: Sequence[Any], limit: int, after: PageKey | None
    ) -> Page[Model]:
        args: list[Any] = list(params)
        if after is not None:
            # A row value, not `created_at < ? OR (created_at = ? AND id < ?)`: SQLite seeks
            # its index to it, so a page deep in a list costs what the first one does. DuckDB
            # compares row by row whatever the form; this one costs it least near the top of
            # a list (docs/performance.md, "At scale").
            where += " AND (created_at, id) < (?, ?)"
            args += [to_text(after.created_at), after.id]
        sql = f"{self.table.select} WHERE {where} ORDER BY created_at DESC, id DESC LIMIT ?"
        items = self.table.to_models(self.db.execute(sql, [*args, limit + 1]), self.db)
        page = items[:limit]
        more = len(items) > limit
        return Page(
            items=page, next_key=PageKey(page[-1].created_at, page[-1].id) if more else None
        )


class SqlUserRepository(_PagedSqlRepository[User], UserRepository):
    table = Table("users", User)

    def add_user(self, user: User) -> User:
        try:
            return self._insert(user)
        except Exception as error:
            if self.db.is_unique_violation(error):
                raise EmailAlreadyRegistered() from None
            raise

    def get_user(self, user_id: str) -> User | None:
        return self._one("id = ?", [user_id])

    def get_user_by_email(self, email: str) -> User | None:
        return self._one("email = ?", [email])

    def update_user_fields(self, user_id: str, changes: Mapping[str, Any]) -> User:
        updated = self._set(checked_changes(changes, USER_FIELDS), "id = ?", [user_id])
        if updated is None:
            raise NotFound("User not found")
        return updated

    def delete_user(self, user_id: str) -> bool:
        return bool(self.db.execute("DELETE FROM users WHERE id = ? RETURNING id", [user_id]))

    def list_users(
        self, *, limit: int, after: PageKey | None = None, email_prefix: str | None = None
    ) -> Page[User]:
        if email_prefix is None:
            return self._page("1 = 1", [], limit, after)
        # substr, not LIKE: a prefix holding `%` or `_` means itself, and the case counts.
        prefix = "substr(email, 1, ?) = ?"
        return self._page(prefix, [len(email_prefix), email_prefix], limit, after)


class SqlProjectRepository(_PagedSqlRepository[Project], ProjectRepository):
    table = Table("projects", Project)

    stored_if_owner_active = ConditionalInsert(
        table.name, tuple(table.columns), "users", "id = candidate.owner_id AND is_active"
    )

    def add_project(self, project: Project, *, copy: HeldCopy | None = None) -> Project:
        """`copy`: see `SqlDatabase.insert_where`."""
        if not self._insert_if(project, self.stored_if_owner_active, copy):
            raise NotFound("User not found")
        return project

    def get_project(self, project_id: str) -> Project | None:
        return self._one("id = ?", [project_id])

    def get_projects_by_user(
        self, user_id: str, *, limit: int, after: PageKey | None = None
    ) -> Page[Project]:
        return self._page("owner_id = ?", [user_id], limit, after)

    def update_project_fields(
        self,
        project_id: str,
        owner_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> Project:
        values = checked_changes(changes, PROJECT_FIELDS)
        where = "id = ? AND owner_id = ?"
        params: list[Any] = [project_id, owner_id]
        if expected_version is not None:
            where += " AND version = ?"
            params.append(expected_version)
        updated = self._set(values, where, params, "version = version + 1")
        if updated is None:
            raise project_update_refused(self.get_project(project_id), owner_id)
        return updated

    def replace_project(self, project: Project) -> Project:
        owned = "id = ? AND owner_id = ?"
        updated = self._set(replacement(project), owned, [project.id, project.owner_id])
        if updated is None:
            raise NotFound("Project not found")
        return updated

    def delete_project(self, project_id: str, owner_id: str) -> bool:
        rows = self.db.execute(
            "DELETE FROM projects WHERE id = ? AND owner_id = ? RETURNING id",
            [project_id, owner_id],
        )
        return bool(rows)


class SqlFileRepository(_PagedSqlRepository[FileRecord], FileRepository):
    table = Table("files", FileRecord)

    stored_if_project_owned = ConditionalInsert(
        table.name,
        tuple(table.columns),
        "projects",
        "id = candidate.project_id AND owner_id = candidate.owner_id",
    )

    def add_file(self, record: FileRecord, *, copy: HeldCopy | None = None) -> FileRecord:
        """`copy`: see `SqlDatabase.insert_where`."""
        if not self._insert_if(record, self.stored_if_project_owned, copy):
            raise NotFound("Project not found")
        return record

    def get_file(self, project_id: str, file_id: str) -> FileRecord | None:
        return self._one("id = ? AND project_id = ?", [file_id, project_id])

    def list_files(
        self, project_id: str, *, limit: int, after: PageKey | None = None
    ) -> Page[FileRecord]:
        return self._page("project_id = ?", [project_id], limit, after)

    def delete_file(self, project_id: str, file_id: str) -> bool:
        rows = self.db.execute(
            "DELETE FROM files WHERE id = ? AND project_id = ? RETURNING id", [file_id, project_id]
        )
        return bool(rows)

    def delete_project_files(self, project_id: str) -> list[FileRecord]:
        rows = self.db.execute(
            "DELETE FROM files WHERE project_id = ? " + self.table.returning,
            [project_id],
        )
        return self.table.to_models(rows, self.db)


class SqlSessionRepository(_SqlRepository[Session], SessionRepository):
    table = Table("sessions", Session)
    tokens = Table("refresh_tokens", RefreshToken)
    users = SqlUserRepository.table

    def add_session(self, session: Session, token: RefreshToken) -> None:
        self.db.execute_all(
            [
                (self.table.insert, self.table.to_row(session)),
                (self.tokens.insert, self.tokens.to_row(token)),
            ]
        )

    def get_session(self, session_id: str) -> Session | None:
        return self._one("id = ?", [session_id])

    _with_user = (
        "SELECT {} FROM sessions s JOIN users u ON u.id = s.user_id ".format(
            ", ".join([f"s.{c}" for c in table.columns] + [f"u.{c}" for c in users.columns])
        )
        + "WHERE s.id = ? AND s.user_id = ?"
    )
    """Asked on every authenticated request: written once."""

    def get_session_with_user(self, session_id: str, user_id: str) -> tuple[Session, User] | None:
        rows = self.db.execute(self._with_user, [session_id, user_id])
        if not rows:
            return None
        split = len(self.table.columns)
        return self.table.to_model(rows[0][:split], self.db), self.users.to_model(
            rows[0][split:], self.db
        )

    def add_refresh_token(self, token: RefreshToken) -> None:
        self.db.execute(self.tokens.insert, self.tokens.to_row(token))

    def use_refresh_token(self, token_hash: str) -> tuple[RefreshToken | None, bool]:
        rows = self.db.execute(
            "UPDATE refresh_tokens SET used = TRUE WHERE token_hash = ? AND NOT used "
            + self.tokens.returning,
            [token_hash],
        )
        if rows:
            return self.tokens.to_model(rows[0], self.db), True
        rows = self.db.execute(f"{self.tokens.select} WHERE token_hash = ?", [token_hash])
        return (self.tokens.to_model(rows[0], self.db) if rows else None), False

    def revoke_session(self, session_id: str) -> bool:
        rows = self.db.execute(
            "UPDATE sessions SET revoked = TRUE WHERE id = ? RETURNING id", [session_id]
        )
        return bool(rows)

    def revoke_user_sessions(self, user_id: str, *, keep: str | None = None) -> int:
        rows = self.db.execute(
            "UPDATE sessions SET revoked = TRUE "
            "WHERE user_id = ? AND id <> ? AND NOT revoked RETURNING id",
            [user_id, keep or ""],
        )
        return len(rows)

    def delete_user_sessions(self, user_id: str) -> None:
        self.db.execute_all(
            [
                ("DELETE FROM refresh_tokens WHERE user_id = ?", [user_id]),
                ("DELETE FROM sessions WHERE user_id = ?", [user_id]),
            ]
        )

    _purge_sessions = (
        "DELETE FROM sessions WHERE expires_at <= ? OR (revoked AND NOT EXISTS ("
        "SELECT 1 FROM refresh_tokens t WHERE t.session_id = sessions.id "
        "AND NOT t.used AND t.expires_at > ?)) RETURNING id"
    )
    _purge_tokens = (
        "DELETE FROM refresh_tokens WHERE expires_at <= ? OR NOT EXISTS ("
        "SELECT 1 FROM sessions s WHERE s.id = refresh_tokens.session_id) RETURNING token_hash"
    )

    def purge_expired(self, now: datetime) -> int:
        """One DELETE per table in one transaction, sessions first, so the tokens of the
        sessions it removed go with them."""
        moment = to_text(now)

        def purge() -> int:
            sessions = self.db.execute(self._purge_sessions, [moment, moment])
            tokens = self.db.execute(self._purge_tokens, [moment])
            return len(sessions) + len(tokens)

        return self.db.transaction(purge)


class SqlLoginAttemptRepository(_SqlRepository[AttemptWindow], LoginAttemptRepository):
    table = Table("login_attempts", AttemptWindow)

    def __init__(self, db: SqlDatabase) -> None:
        super().__init__(db)
        # DuckDB (2.0) loses updates when threads write one row with an upsert RETURNING and
        # an UPDATE at once, retries and all; the counters' writes go one at a time in a
        # process instead (SQLite runs them one at a time anyway, and other processes too).
        self._writes = threading.Lock()

    def record_failure(self, key: str, now: datetime, window_start: datetime) -> AttemptWindow:
        lapsed = to_text(window_start)
        with self._writes:
            rows = self.db.execute(
                "INSERT INTO login_attempts (key, started_at, failures) VALUES (?, ?, 1) "
                "ON CONFLICT (key) DO UPDATE SET "
                "failures = CASE WHEN login_attempts.started_at < ? THEN 1 "
                "ELSE login_attempts.failures + 1 END, "
                "started_at = CASE WHEN login_attempts.started_at < ? THEN excluded.started_at "
                "ELSE login_attempts.started_at END " + self.table.returning,
                [key, to_text(now), lapsed, lapsed],
            )
        return self.table.to_model(rows[0], self.db)

    def remove_failure(self, key: str) -> None:
        with self._writes:
            self.db.execute(
                "UPDATE login_attempts SET failures = failures - 1 WHERE key = ? AND failures > 0",
                [key],
            )

    def get_window(self, key: str) -> AttemptWindow | None:
        return self._one("key = ?", [key])

    def clear(self, key: str) -> None:
        with self._writes:
            self.db.execute("DELETE FROM login_attempts WHERE key = ?", [key])

    def purge_lapsed(self, window_start: datetime) -> int:
        with self._writes:
            rows = self.db.execute(
                "DELETE FROM login_attempts WHERE started_at < ? RETURNING key",
                [to_text(window_start)],
            )
        return len(rows)


class SqlActionTokenRepository(_SqlRepository[ActionToken], ActionTokenRepository):
    table = Table("action_tokens", ActionToken)

    def add_token(self, token: ActionToken) -> None:
        self._insert(token)

    def consume_token(self, token_hash: str, purpose: TokenPurpose) -> ActionToken | None:
        """One DELETE ... RETURNING: of concurrent ones, only the first finds the row."""
        rows = self.db.execute(
            "DELETE FROM action_tokens WHERE token_hash = ? AND purpose = ? "
            + self.table.returning,
            [token_hash, purpose],
        )
        return self.table.to_model(rows[0], self.db) if rows else None

    def purge_expired_tokens(self, now: datetime) -> int:
        rows = self.db.execute(
            "DELETE FROM action_tokens WHERE expires_at <= ? RETURNING token_hash", [to_text(now)]
        )
        return len(rows)


def sql_repositories(engine: SqlDatabase) -> Repositories:
    """The six repositories over one SQL database, closed with it."""
    return Repositories(
        SqlUserRepository(engine),
        SqlProjectRepository(engine),
        SqlFileRepository(engine),
        SqlSessionRepository(engine),
        SqlLoginAttemptRepository(engine),
        SqlActionTokenRepository(engine),
        close=engine.close,
        database_id=engine.database_id,
    )
