"""A second `hangar serve` on a DuckDB file another one holds exits with its reason, not a
traceback: two real processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from benchmarks.servers import HANGAR, free_port, running_server, server_env


def test_a_second_server_on_the_file_exits_with_the_reason_only(tmp_path: Path) -> None:
    env = server_env(
        {
            "APP_ENV": "test",
            "DATABASE_TYPE": "duckdb",
            "STORAGE_TYPE": "local",
            "DUCKDB_PATH": tmp_path / "app.db",
            "LOCAL_STORAGE_PATH": tmp_path / "uploads",
            "MIRROR_JOURNAL_PATH": tmp_path / "journal.jsonl",
        }
    )
    with running_server(tmp_path, env, log=tmp_path / "first.log") as first:
        second = subprocess.run(
            [str(HANGAR), "serve", "--port", str(free_port())],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert first.answers()
    assert second.returncode == 1, second
    assert "one process per file" in second.stderr
    assert str(tmp_path / "app.db") in second.stderr
    output = second.stdout + second.stderr
    assert "Traceback" not in output
    assert len(output.strip().splitlines()) <= 3, output
