"""A DuckDB transaction that meets a write conflict runs again as a whole: real threads on a real
DuckDB file (no cache in front) update one row in two-statement transactions, and every one of
them commits exactly once."""

from __future__ import annotations

import threading
from pathlib import Path

from app.repositories.duckdb import DuckDBDatabase

THREADS = 6
TRANSACTIONS = 15
BUMP = "UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS VARCHAR) WHERE key = 'n'"


def test_conflicting_transactions_all_commit_once(tmp_path: Path) -> None:
    db = DuckDBDatabase(tmp_path / "app.db")
    try:
        db.execute("INSERT INTO meta (key, value) VALUES ('n', '0')")
        errors: list[BaseException] = []
        start = threading.Barrier(THREADS)

        def work() -> None:
            start.wait()
            for _ in range(TRANSACTIONS):
                try:
                    db.execute_all([(BUMP, []), (BUMP, [])])
                except BaseException as error:
                    errors.append(error)

        threads = [threading.Thread(target=work) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, [repr(error.__cause__ or error) for error in errors[:3]]
        [(value,)] = db.execute("SELECT value FROM meta WHERE key = 'n'")
        assert int(value) == 2 * THREADS * TRANSACTIONS
    finally:
        db.close()
