"""A DuckDB file that cannot grow is a 507 naming the database, not a 503 "conflicting writes":
provoked for real with a file size limit (RLIMIT_FSIZE, the EFBIG a full disk's ENOSPC
resembles) in a process of its own; a real write-write conflict is still told apart."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from app.repositories.duckdb import is_io_failure

SERVE_WITH_A_FULL_DISK = """
import json, resource, signal, sys
from pathlib import Path
from fastapi.testclient import TestClient
from app.core.config import Settings
from app.main import create_app

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
folder = Path(sys.argv[1])
settings = Settings(
    _env_file=None, APP_ENV="test", DATABASE_TYPE="duckdb", STORAGE_TYPE="memory",
    DUCKDB_PATH=folder / "app.db", MIRROR_JOURNAL_PATH=folder / "journal.jsonl",
)
with TestClient(create_app(settings)) as client:
    resource.setrlimit(resource.RLIMIT_FSIZE, (1, resource.RLIM_INFINITY))
    answer = client.post(
        "/api/v1/auth/register",
        json={"email": "ada@example.com", "password": "correct horse battery"},
    )
    print(json.dumps({"status": answer.status_code, "body": answer.json()}))
"""


def test_a_write_the_disk_cannot_take_is_a_507_naming_the_database(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", SERVE_WITH_A_FULL_DISK, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    assert answer["status"] == 507, answer
    detail = answer["body"]["detail"]
    assert str(tmp_path / "app.db") in detail
    assert "could not write" in detail.lower()
    assert "conflicting" not in detail


def test_a_real_write_write_conflict_is_not_taken_for_a_disk_failure(tmp_path: Path) -> None:
    connection = duckdb.connect(str(tmp_path / "conflict.db"))
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
    connection.execute("INSERT INTO t VALUES (1, 0)")
    first, second = connection.cursor(), connection.cursor()
    first.execute("BEGIN TRANSACTION")
    second.execute("BEGIN TRANSACTION")
    first.execute("UPDATE t SET v = 1 WHERE id = 1")
    with pytest.raises(duckdb.TransactionException) as conflict:
        second.execute("UPDATE t SET v = 2 WHERE id = 1")
    assert not is_io_failure(conflict.value)
    connection.close()
