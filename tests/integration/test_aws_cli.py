"""`hangar init` creates the AWS resources a later start-up without auto-create expects."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from app.backends import open_backends
from app.cli import cli
from app.core.config import get_settings
from tests.conftest import SettingsFactory


@pytest.fixture
def fresh_settings_cache() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("fresh_settings_cache")
def test_init_creates_tables_and_bucket(
    make_settings: SettingsFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(database="dynamodb", storage="s3", AWS_AUTO_CREATE=False)
    for name in (
        "APP_ENV",
        "DATABASE_TYPE",
        "STORAGE_TYPE",
        "AWS_ENDPOINT_URL",
        "DYNAMODB_TABLE_PREFIX",
        "S3_BUCKET",
    ):
        monkeypatch.setenv(name, str(getattr(settings, name)))

    result = CliRunner().invoke(cli, ["init"])

    assert result.exit_code == 0, result.output
    assert "Ready: database dynamodb, storage s3" in result.output
    open_backends(settings).close()
