"""The schema each SQL engine keeps: which secondary indexes, and what they spare a read."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from app.errors import VersionMismatch
from app.repositories.duckdb import DuckDBDatabase
from app.repositories.sql import (
    RETIRED_INDEXES,
    SECONDARY_INDEXES,
    SqlDatabase,
    SqlProjectRepository,
    SqlUserRepository,
)
from app.repositories.sqlite import SQLiteDatabase
from tests.contract.test_repositories import add_owner

BEFORE_VERSIONS = (
    "CREATE TABLE projects (id VARCHAR PRIMARY KEY, owner_id VARCHAR NOT NULL, "
    "name VARCHAR NOT NULL, description VARCHAR, created_at VARCHAR NOT NULL, "
    "updated_at VARCHAR NOT NULL)"
)
"""The projects table as files held it before projects had a version."""
OLD_ROW = (
    "INSERT INTO projects VALUES ('p', 'o', 'Apollo', NULL, "
    "'2026-01-02T03:04:05.123456+00:00', '2026-01-02T03:04:05.123456+00:00')"
)


def old_sqlite_file(path: Path, *statements: str) -> Path:
    """An SQLite file as Hangar left it before versions: that projects table, then `statements`."""
    with closing(sqlite3.connect(path)) as old:
        for statement in (BEFORE_VERSIONS, *statements):
            old.execute(statement)
        old.commit()
    return path


def test_duckdb_drops_the_secondary_indexes_an_older_file_has_and_sqlite_keeps_them(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with duckdb.connect(str(path)) as old:
        old.execute("CREATE TABLE projects (id VARCHAR PRIMARY KEY, owner_id VARCHAR)")
        old.execute("CREATE INDEX projects_by_owner ON projects (owner_id)")
    engine = DuckDBDatabase(path)
    try:
        assert engine.execute("SELECT index_name FROM duckdb_indexes()") == []
        engine.execute("INSERT INTO projects (id, owner_id) VALUES ('p', 'o')")
        with pytest.raises(duckdb.ConstraintException):  # the primary key still holds
            engine.execute("INSERT INTO projects (id, owner_id) VALUES ('p', 'o')")
    finally:
        engine.close()
    sqlite = SQLiteDatabase(tmp_path / "app.sqlite3")
    try:
        found = sqlite.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        assert set(SECONDARY_INDEXES) <= {name for (name,) in found}
    finally:
        sqlite.close()


def test_sqlite_replaces_a_retired_index_and_reads_a_page_from_the_index_alone(
    tmp_path: Path,
) -> None:
    path = old_sqlite_file(
        tmp_path / "old.sqlite3", "CREATE INDEX projects_by_owner ON projects (owner_id)"
    )
    engine = SQLiteDatabase(path)
    try:
        found = {name for (name,) in engine.execute("SELECT name FROM sqlite_master")}
        assert not found & set(RETIRED_INDEXES)
        statements: list[str] = []
        engine._connection().set_trace_callback(statements.append)
        SqlProjectRepository(engine).get_projects_by_user("o", limit=20)
        engine._connection().set_trace_callback(None)
        (page,) = statements  # as run, with its parameters bound
        plan = " ".join(str(step) for step in engine.execute(f"EXPLAIN QUERY PLAN {page}"))
        assert "COVERING INDEX projects_listing" in plan
    finally:
        engine.close()


def _upgraded_file_counts_versions(engine: SqlDatabase) -> None:
    repo = SqlProjectRepository(engine)
    old = repo.get_project("p")
    assert old is not None and (old.name, old.version) == ("Apollo", 1)
    updated = repo.update_project_fields("p", "o", {"name": "Gemini"}, expected_version=1)
    assert updated.version == 2
    with pytest.raises(VersionMismatch):
        repo.update_project_fields("p", "o", {"name": "stale"}, expected_version=1)
    add_owner(SqlUserRepository(engine), "o")
    assert repo.create_project("o", "new").version == 1


def test_an_sqlite_file_from_before_versions_gains_them_and_its_projects_start_at_one(
    tmp_path: Path,
) -> None:
    path = old_sqlite_file(
        tmp_path / "old.sqlite3",
        OLD_ROW,
        "CREATE INDEX projects_page ON projects "
        "(owner_id, created_at, id, name, description, updated_at)",
    )
    engines = [SQLiteDatabase(path), SQLiteDatabase(path)]  # a second opener finds it done
    try:
        _upgraded_file_counts_versions(engines[1])
    finally:
        for engine in engines:
            engine.close()


def test_a_duckdb_file_from_before_versions_gains_them_even_with_its_old_indexes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    with duckdb.connect(str(path)) as old:
        old.execute(BEFORE_VERSIONS)
        old.execute(OLD_ROW)
        old.execute("CREATE INDEX projects_by_owner ON projects (owner_id)")
    engine = DuckDBDatabase(path)
    try:
        _upgraded_file_counts_versions(engine)
    finally:
        engine.close()
