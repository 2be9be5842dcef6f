"""The repositories for SQL engines, written once over a tiny engine interface.

DuckDB and SQLite speak the same SQL for everything Hangar needs (`?` parameters, RETURNING,
IF NOT EXISTS), so each engine module only supplies connections and error translation.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from app.errors import EmailAlreadyRegistered, NotFound
from app.models import FileRecord, Page, PageKey, Project, User
from app.repositories.base import FileRepository, ProjectRepository, UserRepository

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS users (
        id VARCHAR PRIMARY KEY,
        email VARCHAR NOT NULL UNIQUE,
        password_hash VARCHAR NOT NULL,
        full_name VARCHAR,
        is_active BOOLEAN NOT NULL,
        created_at VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS projects (
        id VARCHAR PRIMARY KEY,
        owner_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        description VARCHAR,
        created_at VARCHAR NOT NULL,
        updated_at VARCHAR NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS projects_by_owner ON projects (owner_id, created_at, id)",
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
    "CREATE INDEX IF NOT EXISTS files_by_project ON files (project_id, created_at, id)",
)

Row = tuple[Any, ...]
Model = TypeVar("Model", User, Project, FileRecord)


def to_text(moment: datetime) -> str:
    """Fixed-width UTC ISO text, so string order is time order in every engine."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class SqlDatabase(ABC):
    """One database file: runs statements and turns engine errors into domain errors."""

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement as its own transaction and return its rows."""

    @abstractmethod
    def execute_script(self, statements: Sequence[str]) -> None:
        """Run several statements in one transaction."""

    @abstractmethod
    def is_unique_violation(self, error: Exception) -> bool:
        """Whether `error` is the engine's unique-constraint failure."""

    @abstractmethod
    def close(self) -> None:
        """Release the file."""

    def create_schema(self) -> None:
        self.execute_script(SCHEMA)


class _Table(Generic[Model]):
    """How one model maps to one table."""

    def __init__(self, name: str, model: type[Model]) -> None:
        self.name = name
        self.model: type[Model] = model
        self.columns = list(model.model_fields)
        self.select = f"SELECT {', '.join(self.columns)} FROM {name}"

    def to_row(self, item: BaseModel) -> list[Any]:
        values = [getattr(item, column) for column in self.columns]
        return [to_text(v) if isinstance(v, datetime) else v for v in values]

    def to_model(self, row: Row) -> Model:
        return self.model.model_validate(dict(zip(self.columns, row, strict=True)))

    def insert_sql(self) -> str:
        marks = ", ".join("?" for _ in self.columns)
        return f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES ({marks})"


class _SqlRepository(Generic[Model]):
    table: _Table[Model]

    def __init__(self, db: SqlDatabase) -> None:
        self.db = db

    def ping(self) -> None:
        self.db.execute("SELECT 1")

    def _one(self, where: str, params: Sequence[Any]) -> Model | None:
        rows = self.db.execute(f"{self.table.select} WHERE {where}", params)
        return self.table.to_model(rows[0]) if rows else None

    def _insert(self, item: Model) -> Model:
        self.db.execute(self.table.insert_sql(), self.table.to_row(item))
        return item

    def _page(
        self, where: str, params: Sequence[Any], limit: int, after: PageKey | None
    ) -> Page[Model]:
        args: list[Any] = list(params)
        if after is not None:
            where += " AND (created_at < ? OR (created_at = ? AND id < ?))"
            moment = to_text(after.created_at)
            args += [moment, moment, after.id]
        sql = f"{self.table.select} WHERE {where} ORDER BY created_at DESC, id DESC LIMIT ?"
        items = [self.table.to_model(row) for row in self.db.execute(sql, [*args, limit + 1])]
        page = items[:limit]
        more = len(items) > limit
        return Page(
            items=page, next_key=PageKey(page[-1].created_at, page[-1].id) if more else None
        )


class SqlUserRepository(_SqlRepository[User], UserRepository):
    table = _Table("users", User)

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

    def update_user(self, user: User) -> User:
        rows = self.db.execute(
            "UPDATE users SET password_hash = ?, full_name = ?, is_active = ? WHERE id = ? "
            f"RETURNING {', '.join(self.table.columns)}",
            [user.password_hash, user.full_name, user.is_active, user.id],
        )
        if not rows:
            raise NotFound("User not found")
        return self.table.to_model(rows[0])

    def delete_user(self, user_id: str) -> bool:
        return bool(self.db.execute("DELETE FROM users WHERE id = ? RETURNING id", [user_id]))

    def list_users(self, *, limit: int, after: PageKey | None = None) -> Page[User]:
        return self._page("1 = 1", [], limit, after)


class SqlProjectRepository(_SqlRepository[Project], ProjectRepository):
    table = _Table("projects", Project)

    def add_project(self, project: Project) -> Project:
        return self._insert(project)

    def get_project(self, project_id: str) -> Project | None:
        return self._one("id = ?", [project_id])

    def get_projects_by_user(
        self, user_id: str, *, limit: int, after: PageKey | None = None
    ) -> Page[Project]:
        return self._page("owner_id = ?", [user_id], limit, after)

    def update_project(self, project: Project) -> Project:
        rows = self.db.execute(
            "UPDATE projects SET name = ?, description = ?, updated_at = ? "
            f"WHERE id = ? AND owner_id = ? RETURNING {', '.join(self.table.columns)}",
            [
                project.name,
                project.description,
                to_text(project.updated_at),
                project.id,
                project.owner_id,
            ],
        )
        if not rows:
            raise NotFound("Project not found")
        return self.table.to_model(rows[0])

    def delete_project(self, project_id: str, owner_id: str) -> bool:
        rows = self.db.execute(
            "DELETE FROM projects WHERE id = ? AND owner_id = ? RETURNING id",
            [project_id, owner_id],
        )
        return bool(rows)


class SqlFileRepository(_SqlRepository[FileRecord], FileRepository):
    table = _Table("files", FileRecord)

    def add_file(self, record: FileRecord) -> FileRecord:
        return self._insert(record)

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
            f"DELETE FROM files WHERE project_id = ? RETURNING {', '.join(self.table.columns)}",
            [project_id],
        )
        return [self.table.to_model(row) for row in rows]
