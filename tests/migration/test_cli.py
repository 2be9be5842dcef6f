"""`hangar migrate` itself: specs, exit codes and what it prints."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console

from app.backends import open_backends
from app.core.config import Settings
from app.migration.console import progress_reporter
from app.migration.endpoints import apply_spec
from app.migration.engine import Event, Kind, Mode, Outcome
from tests.conftest import SettingsFactory
from tests.migration.conftest import CliRun
from tests.migration.support import fill, snapshot

FROM = ["--from", "sqlite,local"]


@pytest.fixture
def run(make_settings: SettingsFactory, hangar: Callable[[Settings], CliRun]) -> CliRun:
    """The process settings name a filled SQLite + local stack."""
    settings = make_settings("sqlite", "local")
    backends = open_backends(settings)
    fill(backends, users=1, projects=1)
    backends.close()
    return hangar(settings)


def test_a_spec_sets_the_type_and_the_setting_that_locates_it() -> None:
    base = Settings(_env_file=None)
    settings = apply_spec(base, "dynamodb:prod-,s3:prod-files")
    assert (settings.DATABASE_TYPE, settings.DYNAMODB_TABLE_PREFIX) == ("dynamodb", "prod-")
    assert (settings.STORAGE_TYPE, settings.S3_BUCKET) == ("s3", "prod-files")
    settings = apply_spec(base, "duckdb:/data/a.db,local:/srv/files")
    assert settings.DUCKDB_PATH.as_posix() == "/data/a.db"
    assert settings.LOCAL_STORAGE_PATH.as_posix() == "/srv/files"
    for wrong in ("duckdb", "oracle,local", "duckdb,ftp", "memory:x,memory"):
        with pytest.raises(ValueError):
            apply_spec(base, wrong)


@pytest.mark.parametrize(
    "args",
    [
        [*FROM, "--to", "sqlite,local"],  # the same data
        [*FROM, "--to", "oracle,local"],
        [*FROM],
        [*FROM, "--to", "duckdb,local", "--verify", "--dry-run"],
        ["--from-env", "/no/such/.env", "--to", "duckdb,local"],
    ],
)
def test_usage_errors_exit_2(run: CliRun, args: list[str]) -> None:
    assert run("migrate", *args).exit_code == 2


def test_dry_run_lists_what_would_be_copied_and_writes_nothing(
    run: CliRun, tmp_path: Path, make_settings: SettingsFactory
) -> None:
    to = ["--to", f"duckdb:{tmp_path / 'new.db'},local:{tmp_path / 'new-files'}"]
    result = run("migrate", *FROM, *to, "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.count("would copy user ") == 1
    assert result.output.count("would copy file ") == 3
    target = make_settings(
        "duckdb",
        "local",
        DUCKDB_PATH=tmp_path / "new.db",
        LOCAL_STORAGE_PATH=tmp_path / "new-files",
    )
    assert snapshot(target) == ([], [], [], {})


def test_copy_then_rerun_then_verify_then_a_lost_file_fails_verification(
    run: CliRun, tmp_path: Path
) -> None:
    to = ["--to", f"duckdb:{tmp_path / 'new.db'},local:{tmp_path / 'new-files'}"]
    first = run("migrate", *FROM, *to)
    assert first.exit_code == 0, first.output
    assert "Done: 5 item(s) written." in first.output
    second = run("migrate", *FROM, *to)
    assert "Nothing to copy" in second.output
    verified = run("migrate", *FROM, *to, "--verify")
    assert verified.exit_code == 0, verified.output
    assert "counts (source/target): users 1/1, projects 1/1, files 3/3" in verified.output

    files = (tmp_path / "new-files").rglob("*")
    lost = next(path for path in files if path.is_file() and not path.name.startswith("."))
    lost.unlink()
    failed = run("migrate", *FROM, *to, "--verify")
    assert failed.exit_code == 1
    assert f"bytes differ: file {lost.name} (bytes missing in the target)" in failed.output


def test_an_env_file_names_a_side_and_wins_over_the_environment(
    run: CliRun, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env.new"
    env_file.write_text(
        f"DATABASE_TYPE=duckdb\nDUCKDB_PATH={tmp_path / 'new.db'}\n"
        f"LOCAL_STORAGE_PATH={tmp_path / 'new-files'}\n"
    )
    copied = run("migrate", *FROM, "--to-env", str(env_file))
    assert copied.exit_code == 0, copied.output
    assert f"-> duckdb:{tmp_path / 'new.db'} + local:{tmp_path / 'new-files'}" in copied.output
    assert run("migrate", *FROM, "--to-env", str(env_file), "--verify").exit_code == 0


def test_a_terminal_gets_a_progress_bar_per_kind() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with progress_reporter(console, Mode.DRY_RUN) as on_event:
        on_event(Event(Kind.USER, "u1", Outcome.COPY, "absent from the target"))
        on_event(Event(Kind.FILE, "f1", Outcome.SAME, ""))
    output = out.getvalue()
    assert all(f"{kind}s" in output for kind in Kind)
    assert "would copy user u1 (absent from the target)" in output
    assert "f1" not in output
