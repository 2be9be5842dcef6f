"""Project operations; every one is scoped to its owner."""

from __future__ import annotations

from app.errors import NotFound
from app.models import Page, PageKey, Project, User, utc_now
from app.repositories.base import FileRepository, ProjectRepository
from app.routers.projects.interface import ProjectCreate, ProjectUpdate
from app.storage.base import FileStorage


def create_project(data: ProjectCreate, *, owner: User, repo: ProjectRepository) -> Project:
    """A new project owned by `owner`."""
    return repo.create_project(owner.id, data.name, data.description)


def get_owned_project(project_id: str, *, owner: User, repo: ProjectRepository) -> Project:
    """The project if `owner` owns it; someone else's is NotFound, exactly like a missing one."""
    project = repo.get_project(project_id)
    if project is None or project.owner_id != owner.id:
        raise NotFound("Project not found")
    return project


def list_projects(
    *, owner: User, repo: ProjectRepository, limit: int = 20, after: PageKey | None = None
) -> Page[Project]:
    """The owner's projects, newest first."""
    return repo.get_projects_by_user(owner.id, limit=limit, after=after)


def update_project(
    project_id: str,
    data: ProjectUpdate,
    *,
    owner: User,
    repo: ProjectRepository,
    expected_version: int | None = None,
) -> Project:
    """Change the fields that were sent, and only those, in one atomic write; with
    `expected_version`, only if the project is still at it (else VersionMismatch)."""
    changes = {**data.model_dump(exclude_unset=True), "updated_at": utc_now()}
    return repo.update_project_fields(
        project_id, owner.id, changes, expected_version=expected_version
    )


def delete_project(
    project_id: str,
    *,
    owner: User,
    repo: ProjectRepository,
    file_repo: FileRepository,
    storage: FileStorage,
) -> None:
    """Remove the project, then its files' metadata, then their bytes: a failure part way
    leaves only invisible leftovers (bytes or records of a gone project), never a project
    that lists files whose bytes are gone."""
    if not repo.delete_project(project_id, owner.id):
        raise NotFound("Project not found")
    for record in file_repo.delete_project_files(project_id):
        storage.delete_file(record.storage_key)
