"""DuckDB allows one process per file: a second one gets a clear error, not a crash."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.errors import BackendUnavailable
from app.repositories.duckdb import DuckDBDatabase

HOLDER = """
import sys, time
from pathlib import Path
from app.repositories.duckdb import DuckDBDatabase
db = DuckDBDatabase(Path(sys.argv[1]))
print("open", flush=True)
time.sleep(30)
"""


def test_a_second_process_on_the_file_is_told_why(tmp_path: Path) -> None:
    path = tmp_path / "app.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(BackendUnavailable) as error:
            DuckDBDatabase(path)
        assert "one process per file" in error.value.detail
        assert str(path) in error.value.detail
    finally:
        holder.kill()
        holder.wait()
    DuckDBDatabase(path).close()
