"""Reruns copy nothing, a killed run finishes on the next one, conflicts and pruning."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.backends import Backends, open_backends
from app.core.config import Settings
from app.migration.engine import Kind, Migration, Mode, Outcome
from app.models import FileRecord, utc_now
from app.repositories.sql import SqlDatabase, SqlFileRepository
from app.storage.base import Readable
from app.storage.local import LocalStorage
from app.storage.signing import url_signer
from tests.conftest import SettingsFactory
from tests.migration.support import fill, migrate, snapshot, snapshot_of

FILES = 2 * 2 * 3
"""What `fill` stores: 2 users with 2 projects of 3 files each."""


class Killed(Exception):
    """The simulated death of the migrating process."""


class DyingFileRepository(SqlFileRepository):
    """A real SQLite file repository whose process dies after `writes` file records."""

    def __init__(self, db: SqlDatabase, writes: int) -> None:
        super().__init__(db)
        self.writes = writes

    def add_file(self, record: FileRecord) -> FileRecord:
        if self.writes == 0:
            raise Killed()
        self.writes -= 1
        return super().add_file(record)


class DyingStorage(LocalStorage):
    """Real local storage whose process dies in the middle of an upload after `writes`."""

    def __init__(self, root: Path, settings: Settings, writes: int) -> None:
        super().__init__(root, url_signer(settings))
        self.writes = writes

    def upload_file(self, key: str, content: Readable | bytes) -> int:
        if self.writes == 0:
            return super().upload_file(key, DyingReader())
        self.writes -= 1
        return super().upload_file(key, content)


class DyingReader:
    """A stream whose reader dies before the first chunk."""

    def read(self, size: int = -1, /) -> bytes:
        raise Killed()


@pytest.fixture
def source(make_settings: SettingsFactory) -> Settings:
    settings = make_settings("duckdb", "local")
    backends = open_backends(settings)
    fill(backends)
    backends.close()
    return settings


@pytest.fixture
def target(make_settings: SettingsFactory, tmp_path: Path) -> Settings:
    return make_settings("sqlite", "local", LOCAL_STORAGE_PATH=tmp_path / "target-files")


def test_a_second_run_copies_nothing_and_bytes_lost_since_are_copied_again(
    source: Settings, target: Settings
) -> None:
    assert migrate(source, target).changes == 2 + 4 + FILES
    again = migrate(source, target)
    assert again.changes == 0
    assert again.counts[Kind.FILE] == {Outcome.SAME: FILES}
    files = snapshot(target)[2]
    storage = LocalStorage(target.LOCAL_STORAGE_PATH, url_signer(target))
    storage.delete_file(files[0].storage_key)
    storage.upload_file(files[1].storage_key, b"tampered")
    repaired = migrate(source, target)
    assert repaired.counts[Kind.FILE] == {Outcome.SAME: FILES - 2, Outcome.BYTES: 2}
    assert migrate(source, target, mode=Mode.VERIFY).problems == []


@pytest.mark.parametrize("dies_in", ["metadata", "bytes"])
def test_a_run_killed_half_way_finishes_on_the_next_without_duplicates(
    source: Settings, target: Settings, dies_in: str
) -> None:
    source_backends, target_backends = open_backends(source), open_backends(target)
    if dies_in == "metadata":
        assert isinstance(target_backends.file_repo, SqlFileRepository)
        dying = dataclasses.replace(
            target_backends, file_repo=DyingFileRepository(target_backends.file_repo.db, 5)
        )
    else:
        storage = DyingStorage(target.LOCAL_STORAGE_PATH, target, 5)
        dying = dataclasses.replace(target_backends, file_storage=storage)
    with pytest.raises(Killed):
        Migration(source_backends, dying).run()
    source_backends.close()
    target_backends.close()

    finished = migrate(source, target)
    assert finished.problems == []
    assert finished.counts[Kind.USER] == {Outcome.SAME: 2}
    assert finished.counts[Kind.FILE] == {Outcome.SAME: 5, Outcome.COPY: FILES - 5}
    assert migrate(source, target, mode=Mode.VERIFY).problems == []
    assert snapshot(target) == snapshot(source)


@pytest.fixture
def pair(make_settings: SettingsFactory) -> Iterator[tuple[Backends, Backends]]:
    """A filled in-memory source and an empty in-memory target."""
    source, target = open_backends(make_settings()), open_backends(make_settings())
    fill(source)
    yield source, target
    source.close()
    target.close()


def test_an_email_taken_by_another_user_in_the_target_is_a_conflict_left_as_is(
    pair: tuple[Backends, Backends],
) -> None:
    source, target = pair
    squatter = target.user_repo.create_user("user0@example.com", "other-hash")
    report = Migration(source, target).run()
    [conflict] = report.problems
    assert (conflict.kind, conflict.outcome) == (Kind.USER, Outcome.CONFLICT)
    assert squatter.id in conflict.detail
    assert target.user_repo.get_user_by_email("user0@example.com") == squatter


def test_prune_deletes_what_the_source_lost_and_updates_what_changed(
    pair: tuple[Backends, Backends],
) -> None:
    source, target = pair
    Migration(source, target).run()
    user, other = source.user_repo.list_users(limit=2).items
    project = source.project_repo.get_projects_by_user(user.id, limit=1).items[0]
    source.project_repo.update_project_fields(
        project.id, user.id, {"name": "Renamed", "updated_at": utc_now()}
    )
    source.user_repo.update_user_fields(user.id, {"full_name": "New name"})
    gone = source.project_repo.get_projects_by_user(other.id, limit=1).items[0]
    source.project_repo.delete_project(gone.id, other.id)
    for record in source.file_repo.delete_project_files(gone.id):
        source.file_storage.delete_file(record.storage_key)

    without_prune = Migration(source, target).run()
    assert {(e.kind, e.outcome) for e in without_prune.problems} == {
        (Kind.USER, Outcome.UPDATE),
        (Kind.PROJECT, Outcome.UPDATE),
    }
    assert all("--prune" in event.detail for event in without_prune.problems)
    differences = Migration(source, target, mode=Mode.VERIFY).run().problems
    assert (
        sum(e.outcome is Outcome.DELETE for e in differences) == 1 + 3 + 3
    )  # project, records, bytes

    pruned = Migration(source, target, prune=True).run()
    assert pruned.problems == []
    assert Migration(source, target, mode=Mode.VERIFY).run().problems == []
    assert snapshot_of(target) == snapshot_of(source)


def test_prune_reaches_records_of_a_project_the_journal_names_as_deleted(
    pair: tuple[Backends, Backends],
) -> None:
    """A mirror whose `delete_project_files` failed keeps records no listing reaches."""
    source, target = pair
    Migration(source, target).run()
    user = source.user_repo.list_users(limit=1).items[0]
    project = source.project_repo.get_projects_by_user(user.id, limit=1).items[0]
    for backends in (source, target):
        backends.project_repo.delete_project(project.id, user.id)
    for record in source.file_repo.delete_project_files(project.id):
        source.file_storage.delete_file(record.storage_key)

    Migration(source, target, prune=True, extra_project_ids=[project.id]).run()
    assert target.file_repo.list_files(project.id, limit=10).items == []
    assert Migration(source, target, mode=Mode.VERIFY).run().problems == []
