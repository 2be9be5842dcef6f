"""The DynamoDB backend against a real endpoint: races settled by the database, start-up
checks, and a table design that never scans on a request path."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.backends import open_repositories
from app.errors import BackendUnavailable, VersionMismatch
from app.main import create_app
from app.models import FileRecord, new_id, utc_now
from app.repositories import dynamodb
from tests.conftest import SettingsFactory
from tests.contract.test_repositories import add_owner

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
        open_repositories(settings)
    for table in ("users", "projects", "files"):
        assert f"{prefix}{table}" in failure.value.detail
    with pytest.raises(BackendUnavailable), TestClient(create_app(settings)):
        pass


def test_auto_created_tables_are_found_by_the_next_start(make_settings: SettingsFactory) -> None:
    settings = make_settings(database="dynamodb")
    close = open_repositories(settings).close
    close()
    repositories = open_repositories(settings.model_copy(update={"AWS_AUTO_CREATE": False}))
    users, close = repositories.user_repo, repositories.close
    users.ping()
    close()


@pytest.fixture
def operations(make_settings: SettingsFactory) -> Iterator[tuple[list[str], Any]]:
    """Every DynamoDB operation the repositories send, observed with a botocore event hook."""
    repositories = open_repositories(make_settings(database="dynamodb"))
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
    users.update_user_fields(user.id, {"full_name": "A"})
    users.list_users(limit=10)
    project = projects.create_project(user.id, "Apollo")
    projects.get_project(project.id)
    projects.get_projects_by_user(user.id, limit=10)
    projects.update_project_fields(project.id, user.id, {"name": "Gemini"})
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
    seen, (users, projects, files) = operations
    owner = users.create_user("batch@example.com", "hash").id
    p1, p2 = (projects.create_project(owner, name).id for name in ("One", "Two"))
    base = utc_now()
    added = [
        files.add_file(file_record(p1, owner, base + timedelta(microseconds=i))) for i in range(60)
    ]
    files.add_file(file_record(p2, owner))
    seen.clear()
    removed = files.delete_project_files(p1)
    assert sorted(r.id for r in removed) == sorted(r.id for r in added)
    assert seen.count("BatchWriteItem") == 3
    assert files.list_files(p1, limit=10).items == []
    assert len(files.list_files(p2, limit=10).items) == 1


def test_the_last_page_has_no_next_key_even_when_full(make_settings: SettingsFactory) -> None:
    repositories = open_repositories(make_settings(database="dynamodb"))
    files, close = repositories.file_repo, repositories.close
    owner = add_owner(repositories.user_repo, "u1").id
    project = repositories.project_repo.create_project(owner, "Apollo").id
    for _ in range(4):
        files.add_file(file_record(project, owner))
    first = files.list_files(project, limit=2)
    assert first.next_key is not None
    last = files.list_files(project, limit=2, after=first.next_key)
    assert len(last.items) == 2
    assert last.next_key is None
    close()


def test_a_project_item_from_before_versions_is_at_the_first_and_counts_on_from_it(
    make_settings: SettingsFactory,
) -> None:
    repositories = open_repositories(make_settings(database="dynamodb"))
    projects, close = repositories.project_repo, repositories.close
    add_owner(repositories.user_repo, "owner")
    project = projects.create_project("owner", "Apollo")
    table = projects.table  # type: ignore[attr-defined]
    projects.client.update_item(  # type: ignore[attr-defined]
        TableName=table, Key={"id": {"S": project.id}}, UpdateExpression="REMOVE version"
    )
    try:
        assert projects.get_project(project.id) == project
        with pytest.raises(VersionMismatch) as refused:
            projects.update_project_fields(project.id, "owner", {"name": "x"}, expected_version=2)
        assert refused.value.current_version == 1
        updated = projects.update_project_fields(
            project.id, "owner", {"name": "Gemini"}, expected_version=1
        )
        assert (updated.name, updated.version) == ("Gemini", 2)
    finally:
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
