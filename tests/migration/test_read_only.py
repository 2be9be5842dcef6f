"""`--dry-run` and `--verify` write nothing: a missing target is read as empty, not created."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.core.aws import dynamodb_client, s3_client
from app.core.config import Settings
from tests.aws import aws_overrides
from tests.conftest import SettingsFactory
from tests.migration.conftest import CliRun
from tests.migration.support import changes, filled

FROM = ["--from", "sqlite,local"]
VERBS = {"--dry-run": "would copy", "--verify": "missing from the target:"}


@pytest.mark.parametrize("database", ["duckdb", "sqlite"])
@pytest.mark.parametrize("mode", ["--dry-run", "--verify"])
def test_a_missing_target_is_reported_as_empty_and_still_missing_afterwards(
    make_settings: SettingsFactory,
    hangar: Callable[[Settings], CliRun],
    tmp_path: Path,
    database: str,
    mode: str,
) -> None:
    run = hangar(filled(make_settings("sqlite", "local"), users=1))
    absent = tmp_path / "absent"
    database_path, files_path = absent / "data" / f"new.{database}", absent / "files"
    before = sorted(tmp_path.rglob("*"))

    result = run("migrate", *FROM, "--to", f"{database}:{database_path},local:{files_path}", mode)

    assert not absent.exists()
    assert sorted(tmp_path.rglob("*")) == before
    assert result.exit_code == (0 if mode == "--dry-run" else 1), result.output
    assert f"{database_path} does not exist" in result.output
    assert f"{files_path} does not exist" in result.output
    assert changes(result.output, f"{VERBS[mode]} user ") == 1
    assert changes(result.output, f"{VERBS[mode]} project ") == 1
    assert changes(result.output, f"{VERBS[mode]} file ") == 3


@pytest.mark.parametrize("mode", ["--dry-run", "--verify"])
def test_missing_tables_and_bucket_are_not_created_even_with_auto_create_on(
    make_settings: SettingsFactory,
    hangar: Callable[[Settings], CliRun],
    request: pytest.FixtureRequest,
    mode: str,
) -> None:
    """The process settings ask for AWS_AUTO_CREATE; a run that writes nothing ignores it."""
    process = filled(make_settings("sqlite", "local", **aws_overrides(request)), users=1)
    assert process.AWS_AUTO_CREATE

    result = hangar(process)("migrate", *FROM, "--to", "dynamodb,s3", mode)

    assert result.exit_code == 1, result.output
    tables = dynamodb_client(process).list_tables()["TableNames"]
    assert not [name for name in tables if name.startswith(process.DYNAMODB_TABLE_PREFIX)]
    buckets = s3_client(process).list_buckets()["Buckets"]
    assert process.S3_BUCKET not in [bucket["Name"] for bucket in buckets]


@pytest.mark.parametrize("mode", ["--dry-run", "--verify"])
def test_an_existing_empty_target_storage_is_left_as_it_was(
    make_settings: SettingsFactory,
    hangar: Callable[[Settings], CliRun],
    tmp_path: Path,
    mode: str,
) -> None:
    """Nothing is bound either: no marker of the source's or the target's database appears."""
    source = filled(make_settings("sqlite", "local"), users=1)
    files_path = tmp_path / "empty-files"
    files_path.mkdir()
    source_files = sorted(source.LOCAL_STORAGE_PATH.rglob("*"))

    hangar(source)("migrate", *FROM, "--to", f"memory,local:{files_path}", mode)

    assert list(files_path.iterdir()) == []
    assert sorted(source.LOCAL_STORAGE_PATH.rglob("*")) == source_files
