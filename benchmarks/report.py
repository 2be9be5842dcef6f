"""Results as rich tables (one per operation), JSON, and a PNG chart to look at."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.workload import OPERATIONS, REFERENCE

STEADY_MIN_REQUESTS = 100


@dataclass
class Result:
    """One operation on one stack in one mode; `ratio` is ops/s over `reference_ops_per_s`, the
    bare app's measured just before it (HTTP); `reference_ms` is, for a login over HTTP, the
    median of the password verifications timed right before each login; `aws_calls` AWS
    requests per operation by AWS API name (service mode, AWS stacks)."""

    mode: str
    stack: str
    operation: str
    count: int
    seconds: float
    ops_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int = 0
    ratio: float | None = None
    reference_ops_per_s: float | None = None
    reference_ms: float | None = None
    aws_calls: dict[str, float] = field(default_factory=dict)
    capacity_units: float | None = None


@dataclass
class MemoryResult:
    """Peak server RSS growth over the idle server while a large file goes up, while it comes
    back down, and while it goes up again as a direct upload, with throughputs; ratios are to
    `copy_mb_s`, a plain fsynced copy on the same disk; `ceiling_mb_s` is what a bare Python
    process makes of the same bytes received and hashed (`benchmarks.memory.ceiling_mb_s`);
    CPU seconds are the API server's while the file goes up through it, and as a direct
    upload."""

    storage: str
    size_mib: int
    baseline_rss_mib: float
    upload_growth_mib: float
    download_growth_mib: float
    upload_mb_s: float
    download_mb_s: float
    copy_mb_s: float
    ceiling_mb_s: float
    ceiling_ratio: float
    upload_ratio: float
    direct_mb_s: float
    direct_ratio: float
    direct_growth_mib: float
    upload_cpu_s: float
    direct_cpu_s: float

    @property
    def direct_cpu_share(self) -> float | None:
        """The API's CPU time for a direct upload as a share of a through-API one."""
        return self.direct_cpu_s / self.upload_cpu_s if self.upload_cpu_s else None


@dataclass
class Report:
    results: list[Result] = field(default_factory=list)
    memory: list[MemoryResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    baselines: dict[str, float] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")


def steady_rate(completed: list[float]) -> float | None:
    """Requests per second between the 10th and the 90th percentile of completion times: the
    run's steady state, without its 32 connections opening and its last requests draining,
    which in a run of a second or two move the figure by a tenth or more."""
    if len(completed) < STEADY_MIN_REQUESTS:
        return None
    first, last = len(completed) // 10, len(completed) * 9 // 10
    span = completed[last] - completed[first]
    return (last - first) / span if span > 0 else None


def summarise(
    mode: str,
    stack: str,
    operation: str,
    latencies: list[float],
    elapsed: float,
    errors: int = 0,
    rate: float | None = None,
) -> Result:
    """Throughput (`rate` if given, else count over elapsed) and latency percentiles of one
    measured run (latencies in seconds)."""
    ordered = sorted(latencies)
    count = len(ordered)

    def percentile(q: float) -> float:
        return ordered[min(count - 1, int(q * count))] * 1000 if ordered else 0.0

    return Result(
        mode=mode,
        stack=stack,
        operation=operation,
        count=count,
        seconds=round(elapsed, 3),
        ops_per_s=round(rate if rate is not None else count / elapsed if elapsed > 0 else 0.0, 1),
        p50_ms=round(statistics.median(ordered) * 1000, 3) if ordered else 0.0,
        p99_ms=round(percentile(0.99), 3),
        errors=errors,
    )


def print_report(report: Report, console: Console | None = None) -> None:
    console = console or Console()
    for operation in (REFERENCE, *OPERATIONS):
        rows = [r for r in report.results if r.operation == operation]
        if not rows:
            continue
        table = Table(title=operation, title_justify="left")
        for column in ("mode", "stack", "ops/s", "p50 ms", "p99 ms", "x reference", "n", "errors"):
            table.add_column(column, justify="left" if column in {"mode", "stack"} else "right")
        with_aws = any(r.aws_calls for r in rows)
        if with_aws:
            table.add_column("AWS requests per op")
            table.add_column("capacity units", justify="right")
        for r in rows:
            cells = [
                r.mode,
                r.stack,
                f"{r.ops_per_s:,.0f}",
                f"{r.p50_ms:.2f}",
                f"{r.p99_ms:.2f}",
                "" if r.ratio is None else f"{r.ratio:.2f}",
                str(r.count),
                str(r.errors) if r.errors else "",
            ]
            if with_aws:
                calls = ", ".join(f"{name} {n:g}" for name, n in sorted(r.aws_calls.items()))
                units = "" if r.capacity_units is None else f"{r.capacity_units:g}"
                cells += [calls, units]
            table.add_row(*cells)
        console.print(table)
    if report.memory:
        table = Table(
            title="large file over HTTP: server memory and throughput", title_justify="left"
        )
        for column in (
            "storage",
            "MiB",
            "baseline RSS MiB",
            "growth up MiB",
            "growth down MiB",
            "upload MB/s",
            "download MB/s",
            "file copy MB/s",
            "upload x copy",
            "ceiling x copy",
        ):
            table.add_column(column, justify="left" if column == "storage" else "right")
        for m in report.memory:
            table.add_row(
                m.storage,
                str(m.size_mib),
                f"{m.baseline_rss_mib:.0f}",
                f"{m.upload_growth_mib:.1f}",
                f"{m.download_growth_mib:.1f}",
                f"{m.upload_mb_s:.0f}",
                f"{m.download_mb_s:.0f}",
                f"{m.copy_mb_s:.0f}",
                f"{m.upload_ratio:.2f}",
                f"{m.ceiling_ratio:.2f}",
            )
        console.print(table)
        table = Table(
            title="large file, direct upload (signed part URLs) against through the API",
            title_justify="left",
        )
        for column in (
            "storage",
            "direct MB/s",
            "direct x copy",
            "growth direct MiB",
            "API CPU s through API",
            "API CPU s direct",
            "direct CPU share",
        ):
            table.add_column(column, justify="left" if column == "storage" else "right")
        for m in report.memory:
            share = m.direct_cpu_share
            table.add_row(
                m.storage,
                f"{m.direct_mb_s:.0f}",
                f"{m.direct_ratio:.2f}",
                f"{m.direct_growth_mib:.1f}",
                f"{m.upload_cpu_s:.2f}",
                f"{m.direct_cpu_s:.2f}",
                "" if share is None else f"{share:.1%}",
            )
        console.print(table)
    for name, value in report.baselines.items():
        console.print(f"{name}: {value:g}")
    for note in report.notes:
        console.print(f"note: {note}")


def save_chart(report: Report, path: Path) -> str | None:
    """One panel per mode, operations grouped, one bar per stack (ops/s, log scale). Returns a
    note instead when matplotlib (the dev-only `bench` group) is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no chart: install the bench group (uv sync --group bench) for matplotlib"
    modes = [m for m in ("service", "http") if any(r.mode == m for r in report.results)]
    if not modes:
        return None
    figure, axes = plt.subplots(len(modes), 1, figsize=(12, 4.5 * len(modes)), squeeze=False)
    for axis, mode in zip(axes[:, 0], modes, strict=True):
        rows = [r for r in report.results if r.mode == mode]
        operations = [o for o in OPERATIONS if any(r.operation == o for r in rows)]
        stacks = list(dict.fromkeys(r.stack for r in rows if r.operation != REFERENCE))
        width = 0.8 / max(1, len(stacks))
        for i, stack in enumerate(stacks):
            values = {r.operation: r.ops_per_s for r in rows if r.stack == stack}
            xs = [j + i * width for j, o in enumerate(operations) if o in values]
            axis.bar(xs, [values[o] for o in operations if o in values], width, label=stack)
        reference = [r.ops_per_s for r in rows if r.operation == REFERENCE]
        if reference:
            axis.axhline(reference[0], color="grey", linestyle="--", label="bare FastAPI route")
        axis.set_xticks([j + 0.4 - width / 2 for j in range(len(operations))], operations)
        axis.set_yscale("log")
        axis.set_ylabel("operations per second")
        axis.set_title(f"{mode} mode")
        axis.legend(fontsize="small", ncols=2)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return None
