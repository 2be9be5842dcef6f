"""`python -m benchmarks.scale` at a tiny size: every database kind it seeds (by SQL, and through
the repositories) is measured and reported with every figure. The targets are read from a full
run's output, never asserted here."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from benchmarks.scale import COLUMNS, PAGE, cli

SIZE = 4_000


def test_scale_reports_every_figure_of_each_database(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    result = CliRunner().invoke(
        cli, ["--sizes", str(SIZE), "--databases", "memory,duckdb", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    rows = {row["database"]: row for row in report["results"]}
    assert set(rows) == {"memory", "duckdb"}
    for database, row in rows.items():
        assert row["projects"] == SIZE and row["users"] > 3 and row["files"] > 0, row
        assert row["open_s"] > 0 and row["seed_s"] > 0, row
        assert row["rss_before_mib"] > 0, row
        for read in ("page", "deep_page", "largest_deep_page", "get"):
            figures = row[read]
            assert figures["cold"]["count"] >= 1 and figures["warm"]["count"] > 1, (read, row)
            for kind in ("cold", "warm"):
                assert 0 < figures[kind]["p50_us"] <= figures[kind]["p99_us"], (read, kind, row)
        # Each page was checked against the projects the seed put there: a full page, after
        # the given number of the owner's projects.
        assert row["page"]["depth"] == 0 and row["page"]["items"] == PAGE
        assert row["deep_page"]["depth"] >= 800 and row["deep_page"]["items"] == PAGE
        assert row["largest_deep_page"]["depth"] >= SIZE // 20
        assert row["create"]["count"] > 100 and row["create"]["p50_us"] > 0, row
        assert (row["file_mib"] is None) == (database == "memory"), row
        # A server started on the file answered: the time it took, none for memory.
        assert (row["serve_s"] is None) == (database == "memory"), row
    assert rows["memory"]["seeded_by"] != "SQL" and rows["duckdb"]["seeded_by"] == "SQL"
    assert rows["duckdb"]["serve_s"] > 0
    # Memory's data is in the process, so the seed shows in its RSS growth.
    assert rows["memory"]["rss_open_mib"] > 0
    for column in COLUMNS:
        assert column in result.output
    assert "memory: no file" in result.output


def test_markdown_prints_a_saved_run(tmp_path: Path) -> None:
    out = tmp_path / "scale.json"
    runner = CliRunner()
    ran = runner.invoke(cli, ["--sizes", str(SIZE), "--databases", "sqlite", "--out", str(out)])
    assert ran.exit_code == 0, ran.output
    printed = runner.invoke(cli, ["--markdown", str(out)])
    assert printed.exit_code == 0, printed.output
    lines = [line for line in printed.output.splitlines() if line.startswith("| ")]
    header, row = lines[0], lines[-1]
    assert header == "| " + " | ".join(COLUMNS) + " |"
    assert row.startswith(f"| {SIZE:,} | ") and row.count("|") == len(COLUMNS) + 1


def test_sizes_too_small_for_cold_reads_are_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--sizes", "100", "--out", str(tmp_path / "scale.json")])
    assert result.exit_code != 0
    assert "at least 4,000 projects" in result.output
    assert not (tmp_path / "scale.json").exists()
