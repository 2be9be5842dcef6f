"""`hangar serve --workers`: refused where a second process would see other data or none."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import get_settings


@pytest.mark.parametrize(
    ("database", "storage", "message"),
    [
        ("duckdb", "local", "duckdb is served by one process"),
        ("memory", "local", "memory is served by one process"),
        ("sqlite", "memory", "memory is served by one process"),
    ],
)
def test_serve_refuses_several_workers_on_single_process_backends(
    monkeypatch: pytest.MonkeyPatch, database: str, storage: str, message: str
) -> None:
    monkeypatch.setenv("DATABASE_TYPE", database)
    monkeypatch.setenv("STORAGE_TYPE", storage)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["serve", "--workers", "2"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2
    assert message in result.output
