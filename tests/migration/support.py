"""Helpers of the migration tests: fill a stack, snapshot it, migrate between two settings."""

from __future__ import annotations

import io
from typing import Any

from app.backends import Backends, open_backends
from app.core.config import Settings
from app.migration.engine import Migration, Report, files_of, projects_of, sha256_of
from app.models import FileRecord, Project, User
from app.repositories.base import every
from app.routers.files.services import upload_file

MIB = 1024 * 1024
Snapshot = tuple[list[User], list[Project], list[FileRecord], dict[str, str | None]]


def fill(
    backends: Backends, *, users: int = 2, projects: int = 2, sizes: tuple[int, ...] = (0, 10, 5000)
) -> None:
    """Users with projects with files, through the same services the API calls."""
    for u in range(users):
        user = backends.user_repo.create_user(f"user{u}@example.com", f"hash-{u}", f"User {u}")
        for p in range(projects):
            project = backends.project_repo.create_project(user.id, f"P{u}.{p}", "notes")
            for size in sizes:
                upload_file(
                    project.id,
                    io.BytesIO(bytes(range(256)) * (size // 256) + b"x" * (size % 256)),
                    owner=user,
                    filename=f"f{size}.bin",
                    content_type="application/octet-stream",
                    max_bytes=100 * MIB,
                    project_repo=backends.project_repo,
                    file_repo=backends.file_repo,
                    storage=backends.file_storage,
                )


def filled(settings: Settings, *, users: int) -> Settings:
    """`settings`, once `users` users with one project of three files each are stored there."""
    backends = open_backends(settings)
    try:
        fill(backends, users=users, projects=1)
    finally:
        backends.close()
    return settings


def snapshot_of(backends: Backends) -> Snapshot:
    """Everything a migration must carry, in page order, with the sha256 of every file."""
    users = list(every(backends.user_repo.list_users))
    projects = list(projects_of(backends))
    files = list(files_of(backends, [project.id for project in projects]))
    shas = {f.storage_key: sha256_of(backends.file_storage, f.storage_key) for f in files}
    return users, projects, files, shas


def snapshot(settings: Settings) -> Snapshot:
    backends = open_backends(settings)
    try:
        return snapshot_of(backends)
    finally:
        backends.close()


def migrate(source: Settings, target: Settings, **options: Any) -> Report:
    source_backends, target_backends = open_backends(source), open_backends(target)
    try:
        return Migration(source_backends, target_backends, **options).run()
    finally:
        source_backends.close()
        target_backends.close()


def changes(output: str, start: str) -> int:
    """The plain lines of a run's output (not the rows of its closing table) starting so."""
    return sum(line.startswith(start) for line in output.splitlines())
