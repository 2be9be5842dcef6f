"""Users stored before verification and administrators existed, on every database with stored
data: they read as verified (they could already log in) and as no administrator, and the
flags can then be set like any field."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from app.backends import open_repositories
from app.repositories.base import Repositories
from tests.conftest import SettingsFactory

BEFORE_FLAGS = (
    "CREATE TABLE users (id VARCHAR PRIMARY KEY, email VARCHAR NOT NULL UNIQUE, "
    "password_hash VARCHAR NOT NULL, full_name VARCHAR, is_active BOOLEAN NOT NULL, "
    "created_at VARCHAR NOT NULL)"
)
"""The users table as files held it before `is_verified` and `is_superuser`."""
OLD_USER = (
    "INSERT INTO users VALUES ('u1', 'old@example.com', 'hash', NULL, TRUE, "
    "'2026-01-02T03:04:05.123456+00:00')"
)


def assert_reads_verified_and_updatable(repositories: Repositories) -> None:
    users = repositories.user_repo
    try:
        old = users.get_user("u1")
        assert old is not None
        assert (old.is_verified, old.is_superuser) == (True, False)
        promoted = users.update_user_fields("u1", {"is_superuser": True})
        assert users.get_user_by_email("old@example.com") == promoted
        assert promoted.is_superuser is True
        assert users.create_user("new@example.com", "hash").is_verified is False
    finally:
        repositories.close()


@pytest.mark.parametrize("database", ["sqlite", "duckdb", "duckdb-nocache"])
def test_an_older_sql_file_gains_the_flags(database: str, make_settings: SettingsFactory) -> None:
    settings = make_settings(database=database)
    if settings.DATABASE_TYPE == "sqlite":
        settings.SQLITE_PATH.parent.mkdir(parents=True)
        with closing(sqlite3.connect(settings.SQLITE_PATH)) as old:
            old.execute(BEFORE_FLAGS)
            old.execute(OLD_USER)
            old.commit()
    else:
        path: Path = settings.DUCKDB_PATH
        path.parent.mkdir(parents=True)
        with duckdb.connect(str(path)) as old:
            old.execute(BEFORE_FLAGS)
            old.execute(OLD_USER)
    assert_reads_verified_and_updatable(open_repositories(settings))


def test_an_older_dynamodb_user_item_lacks_the_flags(make_settings: SettingsFactory) -> None:
    from app.repositories.dynamodb import DynamoUserRepository

    settings = make_settings(database="dynamodb")
    repositories = open_repositories(settings)
    users = repositories.user_repo
    assert isinstance(users, DynamoUserRepository)
    item = {
        "pk": {"S": "user#u1"},
        "id": {"S": "u1"},
        "email": {"S": "old@example.com"},
        "password_hash": {"S": "hash"},
        "full_name": {"NULL": True},
        "is_active": {"BOOL": True},
        "created_at": {"S": "2026-01-02T03:04:05.123456+00:00"},
        "entity": {"S": "user"},
        "created_sk": {"S": "2026-01-02T03:04:05.123456+00:00#u1"},
    }
    users.client.put_item(TableName=users.table, Item=item)
    users.client.put_item(
        TableName=users.table,
        Item={"pk": {"S": "email#old@example.com"}, "user_id": {"S": "u1"}},
    )
    assert_reads_verified_and_updatable(repositories)
