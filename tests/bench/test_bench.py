"""`python -m benchmarks` at a tiny size: both modes and the memory test run and report every
figure. The performance targets are read from a full run's output, never asserted here."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from benchmarks.__main__ import cli
from benchmarks.report import Report
from benchmarks.run import expand
from benchmarks.workload import LOGIN_SAMPLES, OPERATIONS, REFERENCE


def test_bench_reports_every_operation_in_both_modes(tmp_path: Path) -> None:
    tiny = ["--users", "2", "--projects", "20", "--requests", "40", "--files", "2"]
    result = CliRunner().invoke(
        cli,
        [
            *("--db", "memory", "--storage", "memory", "--workers", "1"),
            *("--memory", "local", "--big-file-mib", "4", "--out", str(tmp_path), *tiny),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "bench.json").read_text())
    for mode in ("service", "http"):
        figures = {r["operation"]: r for r in report["results"] if r["mode"] == mode}
        assert set(OPERATIONS) <= set(figures), mode
        for operation in OPERATIONS:
            row = figures[operation]
            assert row["errors"] == 0, row
            assert row["count"] > 0 and row["ops_per_s"] > 0 and row["p50_ms"] > 0, row
    # Two users, but a login's median is taken over LOGIN_SAMPLES of them in each mode.
    logins = [r for r in report["results"] if r["operation"] == "login"]
    assert [r["count"] for r in logins] == [LOGIN_SAMPLES, LOGIN_SAMPLES]
    reference = [r for r in report["results"] if r["operation"] == REFERENCE]
    assert reference and reference[0]["ops_per_s"] > 0
    http = [r for r in report["results"] if r["mode"] == "http" and r["operation"] != REFERENCE]
    assert all(r["ratio"] > 0 for r in http)
    # Each ratio is to the reference run measured next to it, which the report keeps.
    assert all(r["ratio"] == round(r["ops_per_s"] / r["reference_ops_per_s"], 3) for r in http)
    # Each login is compared with password verifications timed beside it, and says so.
    (login,) = [r for r in http if r["operation"] == "login"]
    assert login["reference_ms"] > 0
    ratio = login["p50_ms"] / login["reference_ms"]
    assert f"login p50 on memory+memory is {ratio:.2f}x one verification" in result.output
    (memory,) = report["memory"]
    assert memory["upload_mb_s"] > 0 and memory["download_mb_s"] > 0 and memory["copy_mb_s"] > 0
    assert memory["upload_ratio"] == round(memory["upload_mb_s"] / memory["copy_mb_s"], 3)
    # The same bytes received and hashed by a bare Python process, beside the copy.
    assert memory["ceiling_mb_s"] > 0
    assert memory["ceiling_ratio"] == round(memory["ceiling_mb_s"] / memory["copy_mb_s"], 3)
    assert "ceiling of a Python process" in result.output
    # The same file sent again as a direct upload (ticket, signed part URLs, complete).
    assert memory["direct_mb_s"] > 0 and memory["direct_ratio"] > 0
    assert memory["upload_cpu_s"] >= 0 and memory["direct_cpu_s"] >= 0
    assert "direct upload" in result.output and "direct CPU share" in result.output
    assert "login" in result.output and "x reference" in result.output


def test_extra_workers_run_only_where_several_processes_can_share_the_data() -> None:
    report = Report()
    service, http = expand(["memory", "sqlite"], ["local"], [1, 2], report)
    assert [s.label for s in service] == ["memory+local", "sqlite+local"]
    assert [s.label for s in http] == ["memory+local", "sqlite+local", "sqlite+local x2"]
    assert report.notes == ["memory+local: one process only, not run with 2 workers"]
