"""Faults injected into the real backends (hand-written failing subclasses, no mocks, a writer
killed mid-upload, another database's files in the storage): after each, the API shows a
consistent state, and the doctor reports exactly the leftovers and repairs only its own."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app import doctor
from app.backends import Backends, open_backends
from app.core.config import Settings
from app.main import create_app
from app.models import FileRecord
from app.repositories.sql import SqlFileRepository
from app.storage import processes
from app.storage.base import Readable, as_stream
from app.storage.local import TEMP_PREFIX, LocalStorage
from benchmarks.servers import HANGAR, server_env
from tests.client_fixtures import Headers, login, register
from tests.conftest import SettingsFactory

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
    real = open_backends(settings)
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


def hangar_doctor(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """`hangar doctor` over the test's sqlite database and local storage, its table wide
    enough that no detail is wrapped."""
    env = server_env(
        {
            "APP_ENV": "test",
            "DATABASE_TYPE": "sqlite",
            "STORAGE_TYPE": "local",
            "SQLITE_PATH": settings.SQLITE_PATH,
            "LOCAL_STORAGE_PATH": settings.LOCAL_STORAGE_PATH,
            "COLUMNS": 400,
        }
    )
    command = [str(HANGAR), "doctor", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_hangar_doctor_cli_reports_then_fixes(settings: Settings, backends: Backends) -> None:
    orphan = "0123456789abcdef/fedcba9876543210"
    backends.file_storage.upload_file(orphan, b"left behind")
    found = hangar_doctor(settings)
    assert found.returncode == 1, found.stderr
    assert "orphan_bytes" in found.stdout and "1 problem(s) remain" in found.stdout
    fixed = hangar_doctor(settings, "--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "fixed" in fixed.stdout and "0 problem(s) remain" in fixed.stdout
    assert list(backends.file_storage.list_keys()) == []


def test_hangar_doctor_fix_removes_the_parts_of_expired_direct_uploads_only(
    settings: Settings, backends: Backends
) -> None:
    storage = backends.file_storage
    now = int(time.time())
    expired = storage.start_upload("p/expired", now - 60)
    valid = storage.start_upload("p/valid", now + 3600)
    for key, upload_id in (("p/expired", expired), ("p/valid", valid)):
        storage.upload_part(key, upload_id, 1, as_stream(b"part one"))
    folders = Path(settings.LOCAL_STORAGE_PATH) / ".uploads"
    assert {folder.name for folder in folders.iterdir()} == {expired, valid}

    found = hangar_doctor(settings)
    assert found.returncode == 1, found.stderr
    lines = found.stdout.splitlines()
    [stale] = [line for line in lines if expired in line]
    assert "stale_temp_file" in stale and "parts of a direct upload never completed" in stale
    assert "its ticket expired 6" in stale  # 60 s ago, give or take the test's own seconds
    [kept] = [line for line in lines if valid in line]
    assert "its ticket expires in 3" in kept and "in progress?" in kept
    assert "1 problem(s) remain" in found.stdout

    fixed = hangar_doctor(settings, "--fix")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "0 problem(s) remain" in fixed.stdout
    assert [folder.name for folder in folders.iterdir()] == [valid]
    assert storage.list_parts("p/valid", valid) == {1: len(b"part one")}


@pytest.fixture(params=["duckdb", "sqlite"])
def two_databases(
    request: pytest.FixtureRequest, make_settings: SettingsFactory, tmp_path: Path
) -> tuple[Settings, Settings]:
    """Databases A and B over one storage folder, as `make run` and a notebook once were."""

    def database(name: str) -> Settings:
        return make_settings(
            database=request.param,
            storage="local",
            DUCKDB_PATH=tmp_path / "data" / f"{name}.db",
            SQLITE_PATH=tmp_path / "data" / f"{name}.sqlite3",
        )

    return database("a"), database("b")


def stored_through_the_api(settings: Settings, *contents: bytes) -> list[str]:
    """A user, a project and its files made by the real services; their storage keys."""
    backends = open_backends(settings)
    try:
        with client_for(settings, backends) as client:
            headers, project_id = user_with_project(client)
            for data in contents:
                assert upload(client, headers, project_id, data) == 201
        return [r.storage_key for r in backends.file_repo.list_files(project_id, limit=10).items]
    finally:
        backends.close()


def on_disk(settings: Settings, keys: list[str]) -> list[bool]:
    return [(Path(settings.LOCAL_STORAGE_PATH) / key).is_file() for key in keys]


def fixed_by_the_doctor(settings: Settings) -> doctor.DoctorReport:
    backends = open_backends(settings)
    try:
        return doctor.doctor(backends, fix=True, temp_file_max_age=3600)
    finally:
        backends.close()


def test_the_doctor_reports_and_keeps_the_files_of_another_database_in_its_storage(
    two_databases: tuple[Settings, Settings],
) -> None:
    a, b = two_databases
    own = stored_through_the_api(a, b"mine")
    theirs = stored_through_the_api(b, b"theirs", b"theirs too")
    report = fixed_by_the_doctor(a)
    assert sorted(f.location for f in report.problems) == sorted(theirs)
    assert not any(f.fixed for f in report.findings)
    assert on_disk(a, own + theirs) == [True] * 3
    backends = open_backends(a)
    try:
        with pytest.raises(ValueError, match="also bound to database"):
            doctor.claim_storage(backends)
    finally:
        backends.close()


def test_an_empty_database_beside_a_full_storage_reports_the_files_it_does_not_know(
    two_databases: tuple[Settings, Settings], make_settings: SettingsFactory, tmp_path: Path
) -> None:
    _, b = two_databases
    theirs = stored_through_the_api(b, b"one", b"two")
    empty = b.model_copy(
        update={
            "DUCKDB_PATH": tmp_path / "data" / "empty.db",
            "SQLITE_PATH": tmp_path / "data" / "empty.sqlite3",
        }
    )
    report = fixed_by_the_doctor(empty)
    assert report.storage_note is not None and "2 files" in report.storage_note
    assert sorted(f.location for f in report.problems) == sorted(theirs)
    assert on_disk(b, theirs) == [True, True]


def test_hangar_doctor_fix_on_a_storage_shared_with_another_database_deletes_none_of_its_files(
    two_databases: tuple[Settings, Settings],
) -> None:
    a, b = two_databases
    stored_through_the_api(a, b"mine")
    theirs = stored_through_the_api(b, b"theirs")
    env = server_env(
        {
            "APP_ENV": "test",
            "DATABASE_TYPE": a.DATABASE_TYPE,
            "STORAGE_TYPE": "local",
            "DUCKDB_PATH": a.DUCKDB_PATH,
            "SQLITE_PATH": a.SQLITE_PATH,
            "LOCAL_STORAGE_PATH": a.LOCAL_STORAGE_PATH,
        }
    )
    fixed = subprocess.run(
        [str(HANGAR), "doctor", "--fix"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert fixed.returncode == 1, fixed.stdout + fixed.stderr
    assert "1 problem(s) remain" in fixed.stdout
    assert on_disk(b, theirs) == [True]


def test_a_storage_written_before_bindings_is_reported_until_claimed(
    settings: Settings, backends: Backends
) -> None:
    root = Path(settings.LOCAL_STORAGE_PATH)
    orphan = "0123456789abcdef/fedcba9876543210"
    backends.file_storage.upload_file(orphan, b"whose?")
    for marker in root.glob(".hangar-database-*"):
        marker.unlink()  # as a storage that an older Hangar filled
    report = doctor.doctor(backends, fix=True, temp_file_max_age=3600)
    assert [(f.location, f.fixed) for f in report.problems] == [(orphan, False)]
    assert report.storage_note is not None and "1 file" in report.storage_note
    assert (root / orphan).is_file()
    doctor.claim_storage(backends)
    repaired_cleanly(backends)
    assert not (root / orphan).exists()


# An upload's temp file names the process writing it: start-up and the doctor remove those of a
# process that is gone, however young, and keep those of one still running, however old.

WRITER = """
import sys, time
from pathlib import Path

from app.core.config import Settings
from app.storage.local import open_storage


class Stalls:
    '''A request body that sends one chunk, then never ends.'''

    sent = False

    def read(self, size=-1):
        if self.sent:
            time.sleep(3600)
        self.sent = True
        return b"x" * 1024


settings = Settings(_env_file=None, APP_ENV="test", LOCAL_STORAGE_PATH=Path(sys.argv[1]))
open_storage(settings).upload_file("p/f", Stalls())
"""
TWO_HOURS = 2 * 3600


@contextmanager
def upload_in_another_process(root: Path, *, killed: bool, age: float = 0) -> Iterator[Path]:
    """The temp file of a process of its own stuck in an upload to local storage, `age`
    seconds old; the process killed with SIGKILL first when `killed`."""
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(root)])
    try:
        deadline = time.monotonic() + 30
        while not (found := list(root.rglob(f"{TEMP_PREFIX}*"))):
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        if killed:
            process.kill()
            process.wait()
        written = time.time() - age
        os.utime(found[0], (written, written))
        yield found[0]
    finally:
        process.kill()
        process.wait()


def start_and_stop(settings: Settings) -> None:
    with TestClient(create_app(settings)):
        pass


def test_start_up_removes_a_young_temp_file_of_a_killed_process(settings: Settings) -> None:
    with upload_in_another_process(settings.LOCAL_STORAGE_PATH, killed=True) as temp:
        start_and_stop(settings)
        assert not temp.exists()


def test_start_up_keeps_an_old_temp_file_of_a_running_process(settings: Settings) -> None:
    with upload_in_another_process(
        settings.LOCAL_STORAGE_PATH, killed=False, age=TWO_HOURS
    ) as temp:
        start_and_stop(settings)
        assert temp.exists()


def test_the_doctor_removes_the_temp_file_of_a_killed_process(
    settings: Settings, backends: Backends
) -> None:
    with upload_in_another_process(settings.LOCAL_STORAGE_PATH, killed=True) as temp:
        report = doctor.doctor(backends, fix=True, temp_file_max_age=3600)
        assert [(f.kind, f.fixed) for f in report.findings] == [(doctor.Kind.STALE_TEMP_FILE, True)]
        assert not temp.exists()


def test_the_doctor_keeps_an_old_temp_file_of_a_running_process(
    settings: Settings, backends: Backends
) -> None:
    with upload_in_another_process(
        settings.LOCAL_STORAGE_PATH, killed=False, age=TWO_HOURS
    ) as temp:
        report = doctor.doctor(backends, fix=True, temp_file_max_age=3600)
        assert [f.kind for f in report.findings] == [doctor.Kind.TEMP_FILE]
        assert report.clean and temp.exists()


def test_a_pid_reused_by_a_later_process_or_from_before_a_reboot_is_not_the_writer() -> None:
    host, boot, pid, start = processes.current_tag().split(".")
    assert processes.is_running(processes.current_tag()) is True
    assert processes.is_running(f"{host}.{boot}.{pid}.{int(start) + 1}") is False
    assert processes.is_running(f"{host}.{'0' * len(boot)}.{pid}.{start}") is False
    assert processes.is_running(f"00000000.{boot}.{pid}.{start}") is None  # another host
    assert processes.is_running("q1w2e3r4") is None  # a name from before writers were named
