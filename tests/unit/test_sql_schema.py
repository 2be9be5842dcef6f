"""The schema each SQL engine keeps: which secondary indexes, and what they spare a read."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from app.repositories.duckdb import DuckDBDatabase
from app.repositories.sql import RETIRED_INDEXES, SECONDARY_INDEXES, SqlProjectRepository
from app.repositories.sqlite import SQLiteDatabase


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
    path = tmp_path / "old.sqlite3"
    with closing(sqlite3.connect(path)) as old:
        old.execute(
            "CREATE TABLE projects (id VARCHAR PRIMARY KEY, owner_id VARCHAR NOT NULL, "
            "name VARCHAR NOT NULL, description VARCHAR, created_at VARCHAR NOT NULL, "
            "updated_at VARCHAR NOT NULL)"
        )
        old.execute("CREATE INDEX projects_by_owner ON projects (owner_id)")
        old.commit()
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
        assert "COVERING INDEX projects_page" in plan
    finally:
        engine.close()
