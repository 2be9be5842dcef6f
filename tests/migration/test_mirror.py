"""Mirror mode: API writes land on both stacks; when the mirror fails, requests still succeed,
the journal and `hangar migrate --verify` name what is missing, and `--prune` repairs it."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.backends import open_backends
from app.core.config import Settings
from app.main import create_app
from app.mirroring import MirrorJournal
from app.models import Project
from app.repositories.mirror import MirroredProjectRepository, MirroredUserRepository
from app.repositories.sql import SqlProjectRepository
from app.storage.mirror import MirroredStorage
from tests.client_fixtures import create_project, files_url, login, register, upload
from tests.conftest import SettingsFactory
from tests.migration.conftest import CliRun


class DownProjectRepository(SqlProjectRepository):
    """The mirror's real SQLite project table, behind a link that is down for writes."""

    def add_project(self, project: Project) -> Project:
        raise ConnectionError("mirror database unreachable")

    def update_project_fields(
        self,
        project_id: str,
        owner_id: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> Project:
        raise ConnectionError("mirror database unreachable")


def test_mirror_mode_journals_failures_that_verify_lists_and_prune_repairs(
    make_settings: SettingsFactory,
    tmp_path: Path,
    hangar: Callable[[Settings], CliRun],
) -> None:
    mirror_files = tmp_path / "mirror-files"
    settings = make_settings(
        "duckdb",
        "s3",
        DATABASE_MIRROR_TYPE="sqlite",
        STORAGE_MIRROR_TYPE="local",
        LOCAL_STORAGE_PATH=mirror_files,
        MIRROR_JOURNAL_PATH=tmp_path / "journal.jsonl",
    )
    backends = open_backends(settings)
    assert isinstance(backends.user_repo, MirroredUserRepository)
    assert isinstance(backends.project_repo, MirroredProjectRepository)
    assert isinstance(backends.file_storage, MirroredStorage)
    assert backends.file_storage.network_bound  # S3 on one side is enough: off the loop
    with TestClient(create_app(settings, backends)) as client:
        register(client, "alice@example.com")
        alice = login(client, "alice@example.com")
        apollo = str(create_project(client, alice, "Apollo")["id"])
        first = str(upload(client, alice, apollo, "a.txt", b"first")["id"])
        run = hangar(settings)
        healthy = run("migrate", "--from", "duckdb,s3", "--to", "sqlite,local", "--verify")
        assert healthy.exit_code == 0, healthy.output

        assert isinstance(backends.project_repo.mirror, SqlProjectRepository)
        backends.project_repo.mirror = DownProjectRepository(backends.project_repo.mirror.db)
        shutil.rmtree(mirror_files)
        mirror_files.write_text("a file where the mirror's folder was")
        gemini = str(create_project(client, alice, "Gemini")["id"])
        renamed = client.patch(
            f"/api/v1/projects/{apollo}", json={"name": "Artemis"}, headers=alice
        )
        assert renamed.status_code == 200
        second = str(upload(client, alice, apollo, "b.txt", b"second")["id"])
        deleted = client.delete(files_url(apollo, f"/{first}"), headers=alice)
        assert deleted.status_code == 204
    backends.close()

    journal = MirrorJournal(settings.MIRROR_JOURNAL_PATH)
    assert {(e.kind, e.id, e.operation) for e in journal.entries()} == {
        ("project", gemini, "add"),
        ("project", apollo, "update"),
        ("bytes", f"{apollo}/{second}", "upload"),
        ("bytes", f"{apollo}/{first}", "delete"),
    }
    mirror_files.unlink()  # the mirror is back
    verify = run("migrate", "--from", "duckdb,s3", "--to", "sqlite,local", "--verify")
    assert verify.exit_code == 1
    for line in (
        f"missing from the target: project {gemini}",
        f"differs: project {apollo} (differs in name, updated_at, version)",
        f"bytes differ: file {second} (bytes missing in the target)",
        "4 failed mirror write(s)",
    ):
        assert line in verify.output

    copy = run("migrate", "--from", "duckdb,s3", "--to", "sqlite,local")
    assert copy.exit_code == 1, copy.output
    assert f"left as is: project {apollo}" in copy.output
    assert len(journal.entries()) == 4

    repair = run("migrate", "--from", "duckdb,s3", "--to", "sqlite,local", "--prune")
    assert repair.exit_code == 0, repair.output
    assert f"updated project {apollo}" in repair.output
    assert journal.entries() == []
    final = run("migrate", "--from", "duckdb,s3", "--to", "sqlite,local", "--verify")
    assert final.exit_code == 0, final.output
    assert "Verified" in final.output


def test_a_mirror_of_the_primary_type_is_refused(make_settings: SettingsFactory) -> None:
    with pytest.raises(ValidationError, match="DATABASE_MIRROR_TYPE must differ"):
        make_settings("sqlite", "local", DATABASE_MIRROR_TYPE="sqlite")
    with pytest.raises(ValidationError, match="STORAGE_MIRROR_TYPE must differ"):
        make_settings("sqlite", "local", STORAGE_MIRROR_TYPE="local")
