"""A user in conflict keeps its projects and files out of the target, in every mode."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from app.backends import open_backends
from app.core.config import Settings
from app.migration.engine import files_of
from app.repositories.base import every
from tests.conftest import SettingsFactory
from tests.migration.conftest import CliRun
from tests.migration.support import changes, filled, snapshot

FROM = ["--from", "sqlite,local"]
VERBS = {"copy": "copied", "--dry-run": "would copy", "--verify": "missing from the target:"}


@pytest.fixture
def source(make_settings: SettingsFactory) -> Settings:
    """Two users with one project of three files each."""
    return filled(make_settings("sqlite", "local"), users=2)


@pytest.fixture
def target(make_settings: SettingsFactory, tmp_path: Path) -> Settings:
    """A stack where another user already holds the email of the source's first user."""
    settings = make_settings(
        "duckdb",
        "local",
        DUCKDB_PATH=tmp_path / "target" / "app.db",
        LOCAL_STORAGE_PATH=tmp_path / "target-files",
    )
    backends = open_backends(settings)
    backends.user_repo.create_user("user0@example.com", "other-hash")
    backends.close()
    return settings


@pytest.mark.parametrize("mode", ["copy", "--dry-run", "--verify"])
def test_the_projects_and_files_of_a_user_in_conflict_are_skipped_and_reported(
    source: Settings,
    target: Settings,
    hangar: Callable[[Settings], CliRun],
    mode: str,
) -> None:
    to = f"duckdb:{target.DUCKDB_PATH},local:{target.LOCAL_STORAGE_PATH}"
    result = hangar(source)("migrate", *FROM, "--to", to, *([] if mode == "copy" else [mode]))

    assert result.exit_code == 1, result.output
    users, projects, files, _ = snapshot(source)
    owner = next(user for user in users if user.email == "user0@example.com")

    backends = open_backends(target)
    try:
        owned = list(every(partial(backends.project_repo.get_projects_by_user, owner.id)))
        assert owned == []
        for project in projects:
            copied = backends.project_repo.get_project(project.id) is not None
            assert copied is (mode == "copy" and project.owner_id != owner.id)
        kept = [p.id for p in projects if p.owner_id != owner.id]
        for record in files:
            copied = record.project_id in kept and mode == "copy"
            assert (backends.file_repo.get_file(record.project_id, record.id) is not None) is copied
            assert backends.file_storage.exists(record.storage_key) is copied
        assert len(list(files_of(backends, [p.id for p in projects]))) == (
            3 if mode == "copy" else 0
        )
    finally:
        backends.close()
    assert f"conflict: user {owner.id}" in result.output
    assert f"user {owner.id}: 1 project(s) and 3 file(s) skipped" in result.output
    assert changes(result.output, f"{VERBS[mode]} project ") == 1  # the other user's
    assert changes(result.output, f"{VERBS[mode]} file ") == 3
