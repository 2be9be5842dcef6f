"""Faults injected into the real backends (hand-written failing subclasses, no mocks): after each,
the API shows a consistent state, and the doctor reports exactly the leftovers and repairs them."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import doctor
from app.core.config import Settings
from app.dependencies import Backends, build_backends
from app.main import create_app
from app.models import FileRecord
from app.repositories.sql import SqlFileRepository
from app.storage.base import Readable, as_stream
from app.storage.local import TEMP_PREFIX, LocalStorage
from tests.client_fixtures import Headers, login, register
from tests.conftest import SettingsFactory
from tests.server import HANGAR, server_env

API = "/api/v1"


class DiskFull(OSError):
    """What a storage write raises when the disk fills up part way."""


class StorageFailingMidway(LocalStorage):
    """Local storage whose uploads fail after the first chunk has been written."""

    def upload_file(self, key: str, content: Readable | bytes) -> int:
        class Breaking:
            def __init__(self, stream: Readable) -> None:
                self.stream, self.reads = stream, 0

            def read(self, size: int = -1, /) -> bytes:
                self.reads += 1
                if self.reads > 1:
                    raise DiskFull("No space left on device")
                return self.stream.read(size)

        return super().upload_file(key, Breaking(as_stream(content)))


class StorageThatCannotDelete(LocalStorage):
    """Local storage whose deletes fail (a network blip, a permissions mistake)."""

    def delete_file(self, key: str) -> None:
        raise OSError("Permission denied")


class MetadataWriteFails(SqlFileRepository):
    """The database goes away between the bytes and the metadata of an upload."""

    def add_file(self, record: FileRecord) -> FileRecord:
        raise ConnectionError("database connection lost")


class ProjectFilesDeleteFails(SqlFileRepository):
    """The database goes away after the project row is deleted, before its files' rows."""

    def delete_project_files(self, project_id: str) -> list[FileRecord]:
        raise ConnectionError("database connection lost")


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(database="sqlite", storage="local", TEMP_FILE_MAX_AGE_SECONDS=3600)


@pytest.fixture
def backends(settings: Settings) -> Iterator[Backends]:
    """The real backends; a test swaps one part for a failing subclass over the same data."""
    real = build_backends(settings)
    yield real
    real.close()


def failing_storage(cls: type[LocalStorage], backends: Backends) -> LocalStorage:
    real = backends.file_storage
    assert isinstance(real, LocalStorage)
    return cls(real.root, real._signer)


def failing_files(cls: type[SqlFileRepository], backends: Backends) -> SqlFileRepository:
    real = backends.file_repo
    assert isinstance(real, SqlFileRepository)
    return cls(real.db)


def client_for(settings: Settings, backends: Backends) -> TestClient:
    return TestClient(create_app(settings, backends), raise_server_exceptions=False)


def user_with_project(client: TestClient) -> tuple[Headers, str]:
    register(client, "ada@example.com")
    headers = login(client, "ada@example.com")
    response = client.post(f"{API}/projects", json={"name": "Apollo"}, headers=headers)
    assert response.status_code == 201
    return headers, response.json()["id"]


def upload(client: TestClient, headers: Headers, project_id: str, data: bytes) -> int:
    response = client.post(
        f"{API}/projects/{project_id}/files", files={"file": ("a.bin", data)}, headers=headers
    )
    return response.status_code


def listed_files(client: TestClient, headers: Headers, project_id: str) -> list[str]:
    response = client.get(f"{API}/projects/{project_id}/files", headers=headers)
    assert response.status_code == 200
    return [item["id"] for item in response.json()["items"]]


def kinds(report: doctor.DoctorReport) -> list[str]:
    return sorted(finding.kind.value for finding in report.problems)


def examine(backends: Backends) -> doctor.DoctorReport:
    return doctor.examine(backends, temp_file_max_age=3600)


def repaired_cleanly(backends: Backends) -> None:
    report = doctor.doctor(backends, fix=True, temp_file_max_age=3600)
    assert all(finding.fixed for finding in report.findings), report
    assert examine(backends).clean


def test_storage_failing_midway_leaves_nothing_and_no_file_is_listed(
    settings: Settings, backends: Backends
) -> None:
    broken = dataclasses.replace(
        backends, file_storage=failing_storage(StorageFailingMidway, backends)
    )
    with client_for(settings, broken) as client:
        headers, project_id = user_with_project(client)
        response = client.post(
            f"{API}/projects/{project_id}/files",
            files={"file": ("big.bin", b"x" * (3 * 1024 * 1024))},
            headers=headers,
        )
        assert response.status_code == 500
        assert response.json() == {"detail": "Internal server error"}
        assert listed_files(client, headers, project_id) == []
    assert not list(Path(settings.LOCAL_STORAGE_PATH).rglob(f"{TEMP_PREFIX}*"))
    report = examine(backends)
    assert report.clean and report.findings == []


def test_failed_metadata_write_removes_the_bytes(settings: Settings, backends: Backends) -> None:
    broken = dataclasses.replace(backends, file_repo=failing_files(MetadataWriteFails, backends))
    with client_for(settings, broken) as client:
        headers, project_id = user_with_project(client)
        assert upload(client, headers, project_id, b"payload") == 500
        assert listed_files(client, headers, project_id) == []
    assert list(backends.file_storage.list_keys()) == []
    assert examine(backends).findings == []


def test_failed_metadata_write_and_failed_cleanup_leave_orphan_bytes_for_the_doctor(
    settings: Settings, backends: Backends
) -> None:
    broken = dataclasses.replace(
        backends,
        file_repo=failing_files(MetadataWriteFails, backends),
        file_storage=failing_storage(StorageThatCannotDelete, backends),
    )
    with client_for(settings, broken) as client:
        headers, project_id = user_with_project(client)
        assert upload(client, headers, project_id, b"payload") == 500
        assert listed_files(client, headers, project_id) == []
    [key] = backends.file_storage.list_keys()
    report = examine(backends)
    assert [(f.kind, f.location) for f in report.problems] == [(doctor.Kind.ORPHAN_BYTES, key)]
    repaired_cleanly(backends)
    assert list(backends.file_storage.list_keys()) == []


def test_failed_project_deletion_hides_the_project_and_leaves_records_for_the_doctor(
    settings: Settings, backends: Backends
) -> None:
    with client_for(settings, backends) as client:
        headers, project_id = user_with_project(client)
        kept_project = client.post(f"{API}/projects", json={"name": "Kept"}, headers=headers)
        kept_id = kept_project.json()["id"]
        for data in (b"one", b"two"):
            assert upload(client, headers, project_id, data) == 201
        assert upload(client, headers, kept_id, b"kept") == 201
    broken = dataclasses.replace(
        backends, file_repo=failing_files(ProjectFilesDeleteFails, backends)
    )
    with client_for(settings, broken) as client:
        response = client.delete(f"{API}/projects/{project_id}", headers=headers)
        assert response.status_code == 500
        assert client.get(f"{API}/projects/{project_id}", headers=headers).status_code == 404
        files = client.get(f"{API}/projects/{project_id}/files", headers=headers)
        assert files.status_code == 404
        assert len(listed_files(client, headers, kept_id)) == 1
    report = examine(backends)
    assert kinds(report) == ["orphan_record", "orphan_record"]
    assert {f.project_id for f in report.problems} == {project_id}
    repaired_cleanly(backends)
    assert [key.split("/")[0] for key in backends.file_storage.list_keys()] == [kept_id]


def test_the_doctor_finds_listed_files_whose_bytes_are_gone(
    settings: Settings, backends: Backends
) -> None:
    with client_for(settings, backends) as client:
        headers, project_id = user_with_project(client)
        assert upload(client, headers, project_id, b"soon gone") == 201
        [key] = backends.file_storage.list_keys()
        backends.file_storage.delete_file(key)  # e.g. removed by hand from the bucket
        assert examine(backends).problems[0].kind is doctor.Kind.MISSING_BYTES
        repaired_cleanly(backends)
        assert listed_files(client, headers, project_id) == []


def test_the_doctor_removes_only_stale_temp_files(settings: Settings, backends: Backends) -> None:
    root = Path(settings.LOCAL_STORAGE_PATH)
    (root / "p").mkdir(parents=True)
    (root / "p" / f"{TEMP_PREFIX}young").write_bytes(b"in flight")
    report = doctor.doctor(backends, fix=True, temp_file_max_age=3600)
    assert [f.kind for f in report.findings] == [doctor.Kind.TEMP_FILE]
    assert report.clean  # a young temp file may be an upload in progress
    report = doctor.doctor(backends, fix=True, temp_file_max_age=0)
    assert [(f.kind, f.fixed) for f in report.findings] == [(doctor.Kind.STALE_TEMP_FILE, True)]
    assert not any(root.rglob(f"{TEMP_PREFIX}*"))


def test_hangar_doctor_cli_reports_then_fixes(settings: Settings, backends: Backends) -> None:
    orphan = "0123456789abcdef/fedcba9876543210"
    backends.file_storage.upload_file(orphan, b"left behind")
    env = server_env(
        {
            "APP_ENV": "test",
            "DATABASE_TYPE": "sqlite",
            "STORAGE_TYPE": "local",
            "SQLITE_PATH": settings.SQLITE_PATH,
            "LOCAL_STORAGE_PATH": settings.LOCAL_STORAGE_PATH,
        }
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [str(HANGAR), "doctor", *args]
        return subprocess.run(
            command, env=env, capture_output=True, text=True, timeout=60, check=False
        )

    found = run()
    assert found.returncode == 1, found.stderr
    assert "orphan_bytes" in found.stdout and "1 problem(s) remain" in found.stdout
    fixed = run("--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "fixed" in fixed.stdout and "0 problem(s) remain" in fixed.stdout
    assert list(backends.file_storage.list_keys()) == []
