"""Every database has an id of its own, made with it and kept in it: storage records the ids
of the databases whose files it holds (`app.backends.bind_storage`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.backends import open_backends, open_repositories
from app.repositories.base import Repositories
from tests.conftest import DATABASES, STORAGES, SettingsFactory


def test_a_database_has_an_id(repositories: Repositories) -> None:
    assert len(repositories.database_id) == 32


@pytest.mark.parametrize("database", [d for d in DATABASES if d != "memory"])
def test_the_id_lasts_across_openings(database: str, make_settings: SettingsFactory) -> None:
    settings = make_settings(database=database)
    first = open_repositories(settings)
    first.close()
    again = open_repositories(settings)
    again.close()
    assert again.database_id == first.database_id


@pytest.mark.parametrize("database", ["memory", "duckdb", "sqlite"])
def test_another_database_has_another_id(
    database: str, make_settings: SettingsFactory, tmp_path: Path
) -> None:
    one, other = (
        open_repositories(
            make_settings(
                database=database,
                DUCKDB_PATH=tmp_path / f"{name}.db",
                SQLITE_PATH=tmp_path / f"{name}.sqlite3",
            )
        )
        for name in ("one", "other")
    )
    one.close()
    other.close()
    assert one.database_id != other.database_id


@pytest.mark.parametrize("storage", STORAGES)
def test_opening_the_backends_binds_an_empty_storage_to_the_database(
    storage: str, make_settings: SettingsFactory
) -> None:
    backends = open_backends(make_settings(database="memory", storage=storage))
    try:
        assert backends.file_storage.database_ids() == {backends.database_id}
        assert backends.owns_storage()
    finally:
        backends.close()
