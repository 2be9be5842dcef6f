"""The DynamoDB backend against a real endpoint: races settled by the database, start-up
checks, and a table design that never scans on a request path."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.dependencies import build_repositories
from app.errors import BackendUnavailable
from app.main import create_app
from app.models import FileRecord, new_id, utc_now
from app.repositories import dynamodb
from tests.conftest import SettingsFactory

ATTEMPTS = 20


def test_concurrent_registrations_of_one_email_make_one_account(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(database="dynamodb", storage="memory")
    body = {"email": "race@example.com", "password": "correct horse battery"}
    with (
        TestClient(create_app(settings)) as client,
        ThreadPoolExecutor(max_workers=ATTEMPTS) as pool,
    ):
        statuses = list(
            pool.map(
                lambda _: client.post("/api/v1/auth/register", json=body).status_code,
                range(ATTEMPTS),
            )
        )
        users = client.app.state.context.backends.user_repo  # type: ignore[attr-defined]
        assert users.list_users(limit=50).items[0].email == "race@example.com"
        assert len(users.list_users(limit=50).items) == 1
    assert sorted(statuses) == [201] + [409] * (ATTEMPTS - 1)


def test_start_up_without_auto_create_names_the_missing_tables(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(database="dynamodb", AWS_AUTO_CREATE=False)
    prefix = settings.DYNAMODB_TABLE_PREFIX
    with pytest.raises(BackendUnavailable) as failure:
        build_repositories(settings)
    for table in ("users", "projects", "files"):
        assert f"{prefix}{table}" in failure.value.detail
    with pytest.raises(BackendUnavailable), TestClient(create_app(settings)):
        pass


def test_auto_created_tables_are_found_by_the_next_start(make_settings: SettingsFactory) -> None:
    settings = make_settings(database="dynamodb")
    close = build_repositories(settings).close
    close()
    repositories = build_repositories(settings.model_copy(update={"AWS_AUTO_CREATE": False}))
    users, close = repositories.user_repo, repositories.close
    users.ping()
    close()


@pytest.fixture
def operations(make_settings: SettingsFactory) -> Iterator[tuple[list[str], Any]]:
    """Every DynamoDB operation the repositories send, observed with a botocore event hook."""
    repositories = build_repositories(make_settings(database="dynamodb"))
    users, projects, files, close = (
        repositories.user_repo,
        repositories.project_repo,
        repositories.file_repo,
        repositories.close,
    )
    seen: list[str] = []
    client = users.client  # type: ignore[attr-defined]
    client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: seen.append(model.name)
    )
    yield seen, (users, projects, files)
    close()


def test_request_paths_never_scan(operations: tuple[list[str], Any]) -> None:
    seen, (users, projects, files) = operations
    user = users.create_user("a@example.com", "hash")
    users.get_user(user.id)
    users.get_user_by_email(user.email)
    users.update_user(user.model_copy(update={"full_name": "A"}))
    users.list_users(limit=10)
    project = projects.create_project(user.id, "Apollo")
    projects.get_project(project.id)
    projects.get_projects_by_user(user.id, limit=10)
    projects.update_project(project.model_copy(update={"name": "Gemini"}))
    record = files.add_file(file_record(project.id, user.id))
    files.get_file(project.id, record.id)
    files.list_files(project.id, limit=10)
    files.delete_file(project.id, record.id)
    files.delete_project_files(project.id)
    projects.delete_project(project.id, user.id)
    users.delete_user(user.id)
    assert "Query" in seen and "TransactWriteItems" in seen
    assert "Scan" not in seen


def test_project_files_are_deleted_in_batches_of_25(operations: tuple[list[str], Any]) -> None:
    seen, (_, _, files) = operations
    base = utc_now()
    added = [
        files.add_file(file_record("p1", "u1", base + timedelta(microseconds=i))) for i in range(60)
    ]
    files.add_file(file_record("p2", "u1"))
    seen.clear()
    removed = files.delete_project_files("p1")
    assert sorted(r.id for r in removed) == sorted(r.id for r in added)
    assert seen.count("BatchWriteItem") == 3
    assert files.list_files("p1", limit=10).items == []
    assert len(files.list_files("p2", limit=10).items) == 1


def test_the_last_page_has_no_next_key_even_when_full(make_settings: SettingsFactory) -> None:
    repositories = build_repositories(make_settings(database="dynamodb"))
    files, close = repositories.file_repo, repositories.close
    for _ in range(4):
        files.add_file(file_record("p1", "u1"))
    first = files.list_files("p1", limit=2)
    assert first.next_key is not None
    last = files.list_files("p1", limit=2, after=first.next_key)
    assert len(last.items) == 2
    assert last.next_key is None
    close()


def test_sort_keys_order_like_the_page_keys() -> None:
    moment = utc_now()
    earlier = dynamodb.sort_key(moment, "b")
    assert earlier < dynamodb.sort_key(moment, "c")
    assert earlier < dynamodb.sort_key(moment + timedelta(microseconds=1), "a")


def file_record(project_id: str, owner_id: str, created_at: Any = None) -> FileRecord:
    file_id = new_id()
    return FileRecord(
        id=file_id,
        project_id=project_id,
        owner_id=owner_id,
        filename="notes.txt",
        content_type="text/plain",
        size=3,
        sha256="0" * 64,
        storage_key=f"{project_id}/{file_id}",
        created_at=created_at or utc_now(),
    )
