"""Mirror mode for the user, project and file repositories: writes go to the primary, then to
the mirror; reads come from the primary only. A failed mirror write is logged and journaled,
never raised, so the user's request succeeds; `hangar migrate --prune` repairs the mirror.
An update is repeated as the same field update, not as the primary's whole record: two updates
reaching the mirror in another order must not undo each other there either.
Sessions, login counters and one-time tokens stay on the primary (users log in again, and
ask for a new link, on a new stack)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.mirroring import Mirrored
from app.models import FileRecord, Page, PageKey, Project, User
from app.repositories.base import FileRepository, ProjectRepository, UserRepository


class MirroredUserRepository(Mirrored[UserRepository], UserRepository):
    kind = "user"

    def add_user(self, user: User) -> User:
        added = self.primary.add_user(user)
        self._mirror("add", user.id, lambda repo: repo.add_user(added))
        return added

    def get_user(self, user_id: str) -> User | None:
        return self.primary.get_user(user_id)

    def get_user_by_email(self, email: str) -> User | None:
        return self.primary.get_user_by_email(email)

    def update_user_fields(self, user_id: str, changes: Mapping[str, Any]) -> User:
        updated = self.primary.update_user_fields(user_id, changes)
        self._mirror("update", user_id, lambda repo: repo.update_user_fields(user_id, changes))
        return updated

    def delete_user(self, user_id: str) -> bool:
        deleted = self.primary.delete_user(user_id)
        self._mirror("delete", user_id, lambda repo: repo.delete_user(user_id))
        return deleted

    def list_users(
        self, *, limit: int, after: PageKey | None = None, email_prefix: str | None = None
    ) -> Page[User]:
        return self.primary.list_users(limit=limit, after=after, email_prefix=email_prefix)


class MirroredProjectRepository(Mirrored[ProjectRepository], ProjectRepository):
    kind = "project"

    def add_project(self, project: Project) -> Project:
        added = self.primary.add_project(project)
        self._mirror("add", project.id, lambda repo: repo.add_project(added))
        return added

    def get_project(self, project_id: str) -> Project | None:
        return self.primary.get_project(project_id)

    def get_projects_by_user(
        self, user_id: str, *, limit: int, after: PageKey | None = None
    ) -> Page[Project]:
        return self.primary.get_projects_by_user(user_id, limit=limit, after=after)

    def update_project_fields(
        self,
        project_id: str,
        owner_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> Project:
        """The primary alone judges `expected_version`; the mirror takes the change it made."""
        updated = self.primary.update_project_fields(
            project_id, owner_id, changes, expected_version=expected_version
        )
        self._mirror(
            "update",
            project_id,
            lambda repo: repo.update_project_fields(project_id, owner_id, changes),
        )
        return updated

    def replace_project(self, project: Project) -> Project:
        replaced = self.primary.replace_project(project)
        self._mirror("update", project.id, lambda repo: repo.replace_project(replaced))
        return replaced

    def delete_project(self, project_id: str, owner_id: str) -> bool:
        deleted = self.primary.delete_project(project_id, owner_id)
        self._mirror("delete", project_id, lambda repo: repo.delete_project(project_id, owner_id))
        return deleted


class MirroredFileRepository(Mirrored[FileRepository], FileRepository):
    kind = "file"

    def add_file(self, record: FileRecord) -> FileRecord:
        added = self.primary.add_file(record)
        self._mirror("add", record.id, lambda repo: repo.add_file(added))
        return added

    def get_file(self, project_id: str, file_id: str) -> FileRecord | None:
        return self.primary.get_file(project_id, file_id)

    def list_files(
        self, project_id: str, *, limit: int, after: PageKey | None = None
    ) -> Page[FileRecord]:
        return self.primary.list_files(project_id, limit=limit, after=after)

    def delete_file(self, project_id: str, file_id: str) -> bool:
        deleted = self.primary.delete_file(project_id, file_id)
        self._mirror("delete", file_id, lambda repo: repo.delete_file(project_id, file_id))
        return deleted

    def delete_project_files(self, project_id: str) -> list[FileRecord]:
        removed = self.primary.delete_project_files(project_id)
        self._mirror(
            "delete_project_files", project_id, lambda repo: repo.delete_project_files(project_id)
        )
        return removed
