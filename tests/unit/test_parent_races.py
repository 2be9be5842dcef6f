"""Writes that depend on a parent, with the parent's deletion landing at the worst moment, on
every database: nothing outlives its parent, and the doctor finds nothing to repair."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from app import doctor
from app.backends import Backends, open_backends
from app.core.security import PasswordHasher
from app.errors import NotFound
from app.models import User
from app.routers.auth.interface import UserRegister
from app.routers.auth.services import delete_account, register_user
from app.routers.files import services as files
from app.routers.projects import services as projects
from app.routers.projects.interface import ProjectCreate
from app.storage.base import Readable
from tests.conftest import DATABASES, SettingsFactory

FAST = PasswordHasher()
PASSWORD = "password1"


@pytest.fixture(params=DATABASES)
def backends(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> Iterator[Backends]:
    opened = open_backends(make_settings(database=request.param, storage="local"))
    yield opened
    opened.close()


@pytest.fixture
def ada(backends: Backends) -> User:
    data = UserRegister(email="ada@example.com", password=PASSWORD)
    return register_user(data, repo=backends.user_repo, hasher=FAST)


def assert_doctor_finds_nothing(backends: Backends) -> None:
    report = doctor.examine(backends, temp_file_max_age=0)
    assert [f for f in report.findings if f.is_problem] == []


def upload(backends: Backends, project_id: str, owner: User) -> None:
    files.upload_file(
        project_id,
        io.BytesIO(b"data"),
        owner=owner,
        filename="a.txt",
        content_type="text/plain",
        max_bytes=100,
        project_repo=backends.project_repo,
        file_repo=backends.file_repo,
        storage=backends.file_storage,
    )


def delete_account_of(user: User, backends: Backends) -> None:
    delete_account(
        user,
        PASSWORD,
        repo=backends.user_repo,
        sessions=backends.session_repo,
        project_repo=backends.project_repo,
        file_repo=backends.file_repo,
        storage=backends.file_storage,
        hasher=FAST,
    )


def test_a_project_deleted_while_an_upload_writes_its_bytes_leaves_no_bytes_and_no_record(
    backends: Backends, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = backends.project_repo.create_project(ada.id, "Apollo")
    write_bytes = backends.file_storage.upload_file

    def bytes_then_project_deleted(key: str, stream: Readable) -> None:
        write_bytes(key, stream)
        projects.delete_project(
            project.id,
            owner=ada,
            repo=backends.project_repo,
            file_repo=backends.file_repo,
            storage=backends.file_storage,
        )

    monkeypatch.setattr(backends.file_storage, "upload_file", bytes_then_project_deleted)
    with pytest.raises(NotFound):
        upload(backends, project.id, ada)
    assert list(backends.file_storage.list_keys()) == []
    assert backends.file_repo.list_files(project.id, limit=5).items == []
    assert_doctor_finds_nothing(backends)


def test_a_project_created_for_a_user_deleted_since_authentication_is_refused(
    backends: Backends, ada: User
) -> None:
    delete_account_of(ada, backends)  # after the request authenticated as ada
    with pytest.raises(NotFound):
        projects.create_project(ProjectCreate(name="late"), owner=ada, repo=backends.project_repo)
    assert backends.project_repo.get_projects_by_user(ada.id, limit=5).items == []


def test_account_deletion_tolerates_a_project_deleted_meanwhile_by_another_request(
    backends: Backends, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    apollo = backends.project_repo.create_project(ada.id, "Apollo")
    upload(backends, apollo.id, ada)
    backends.project_repo.create_project(ada.id, "Gemini")
    delete_row = backends.project_repo.delete_project

    def another_request_deletes_it_first(project_id: str, owner_id: str) -> bool:
        delete_row(project_id, owner_id)  # the user's own DELETE /projects/{id} won
        return delete_row(project_id, owner_id)

    monkeypatch.setattr(backends.project_repo, "delete_project", another_request_deletes_it_first)
    delete_account_of(ada, backends)
    assert backends.user_repo.get_user(ada.id) is None
    assert backends.project_repo.get_projects_by_user(ada.id, limit=5).items == []


def test_a_project_created_while_the_account_is_deleted_does_not_outlive_the_user(
    backends: Backends, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    backends.project_repo.create_project(ada.id, "Apollo")
    forget_sessions = backends.session_repo.delete_user_sessions

    def a_request_authenticated_earlier_creates_a_project(user_id: str) -> None:
        projects.create_project(ProjectCreate(name="late"), owner=ada, repo=backends.project_repo)
        forget_sessions(user_id)

    monkeypatch.setattr(
        backends.session_repo,
        "delete_user_sessions",
        a_request_authenticated_earlier_creates_a_project,
    )
    delete_account_of(ada, backends)
    assert backends.user_repo.get_user(ada.id) is None
    assert backends.project_repo.get_projects_by_user(ada.id, limit=5).items == []
