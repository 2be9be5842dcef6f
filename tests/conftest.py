"""Settings and backends for every test: real engines in temporary folders, nothing patched.

A new backend joins every suite by adding its name to DATABASES or STORAGES and, if it needs
settings of its own (an endpoint, a bucket), a branch in `backend_overrides`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.core.config import Settings

pytest_plugins = ["tests.aws", "tests.client_fixtures"]

DATABASES = ["memory", "duckdb", "duckdb-nocache", "sqlite", "dynamodb"]
"""`duckdb` is the default, reads from the process's memory copy; `duckdb-nocache` reads the
file with SQL (DUCKDB_CACHE=false)."""
STORAGES = ["memory", "local", "s3"]
API_STACKS = [("duckdb", "local"), ("memory", "memory"), ("dynamodb", "s3")]
TEST_BASE_URL = "http://testserver"

SettingsFactory = Callable[..., Settings]


def backend_overrides(
    request: pytest.FixtureRequest, database: str, storage: str
) -> dict[str, Any]:
    """Settings a backend needs beyond paths, e.g. the endpoint of a server started for it."""
    if database == "duckdb-nocache":
        return {"DATABASE_TYPE": "duckdb", "DUCKDB_CACHE": False}
    if database == "dynamodb" or storage == "s3":
        from tests.aws import aws_overrides

        return aws_overrides(request)
    return {}


@pytest.fixture
def make_settings(tmp_path: Path, request: pytest.FixtureRequest) -> SettingsFactory:
    """Build isolated settings: each test gets its own files, folders and names."""

    def build(database: str = "memory", storage: str = "memory", **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "APP_ENV": "test",
            "DATABASE_TYPE": database,
            "STORAGE_TYPE": storage,
            "DUCKDB_PATH": tmp_path / "data" / "app.db",
            "SQLITE_PATH": tmp_path / "data" / "app.sqlite3",
            "LOCAL_STORAGE_PATH": tmp_path / "uploads",
            "PUBLIC_BASE_URL": TEST_BASE_URL,
            "MAIL_TYPE": "memory",  # a test reads what was mailed from the app's mailer
            **backend_overrides(request, database, storage),
            **overrides,
        }
        return Settings(_env_file=None, **values)

    return build
