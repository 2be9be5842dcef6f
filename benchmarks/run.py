"""One bench run: expand the stacks, start moto when an AWS stack needs it, run each mode,
print the tables and save JSON and the chart."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from rich.console import Console

from app.core.config import Settings
from benchmarks import workload as w
from benchmarks.report import Report, print_report, save_chart
from benchmarks.service import PasswordVerification

Log = Callable[[str], None]


def expand(
    databases: list[str], storages: list[str], workers: list[int], report: Report
) -> tuple[list[w.Stack], list[w.Stack]]:
    """Service stacks (every database x storage) and HTTP stacks: the same, plus each extra
    worker count where several processes can share the data."""
    service = [w.Stack(db, storage) for db in databases for storage in storages]
    http = list(service)
    for count in (n for n in workers if n > 1):
        for stack in service:
            if stack.one_process:
                report.notes.append(
                    f"{stack.label}: one process only, not run with {count} workers"
                )
            else:
                http.append(w.Stack(stack.database, stack.storage, count))
    return service, http


@contextmanager
def aws(needed: bool, endpoint: str | None, folder: Path) -> Iterator[str | None]:
    """The given endpoint, else a moto server of our own when an AWS stack is measured, with
    dummy credentials for the service mode's in-process clients while it runs."""
    if not needed or endpoint is not None:
        yield endpoint
        return
    from benchmarks.servers import DUMMY_AWS, moto_server

    saved = {name: os.environ.get(name) for name in DUMMY_AWS}
    os.environ.update(DUMMY_AWS)
    try:
        with moto_server(folder / "moto") as started:
            yield started
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_bench(
    *,
    modes: list[str],
    databases: list[str],
    storages: list[str],
    workers: list[int],
    workload: w.Workload,
    memory_storages: list[str],
    big_file_mib: int,
    out: Path,
    aws_endpoint: str | None,
    console: Console,
) -> Report:
    report = Report()

    def log(line: str) -> None:
        console.print(line, style="dim", highlight=False)

    service_stacks, http_stacks = expand(databases, storages, workers, report)
    needs_aws = any(s.uses_aws for s in service_stacks) or "s3" in memory_storages
    settings = Settings(_env_file=None)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hangar-bench-")))
        endpoint = stack.enter_context(aws(needs_aws, aws_endpoint, folder))
        verification = PasswordVerification(settings)
        if "service" in modes:
            from benchmarks.service import run_service

            console.rule("service mode: the services called directly")
            run_service(service_stacks, folder / "service", workload, report, endpoint, log)
        if "http" in modes:
            from benchmarks.http import run_http

            console.rule("HTTP mode: hangar serve driven by a separate client process")
            run_http(http_stacks, folder / "http", workload, report, verification, endpoint, log)
            report.notes += [
                f"login p50 on {r.stack} is {r.p50_ms / r.reference_ms:.2f}x one verification "
                f"({r.reference_ms:.1f} ms, timed before each login)"
                for r in report.results
                if r.mode == "http" and r.operation == w.LOGIN and r.reference_ms
            ]
        report.baselines["argon2id verify ms"] = verification.median_ms()
        if memory_storages:
            from benchmarks.memory import measure_storage

            console.rule(f"memory: a {big_file_mib} MiB file up and down over HTTP")
            for storage in memory_storages:
                target = folder / "memory" / storage
                report.memory.append(measure_storage(storage, target, big_file_mib, endpoint, log))
    report.baselines.update(
        {
            "argon2id memory KiB": settings.ARGON2_MEMORY_KIB,
            "argon2id time cost": settings.ARGON2_TIME_COST,
            "argon2id parallelism": settings.ARGON2_PARALLELISM,
        }
    )
    print_report(report, console)
    report.save(out / "bench.json")
    note = save_chart(report, out / "bench.png")
    console.print(note or f"saved {out / 'bench.json'} and {out / 'bench.png'}")
    return report
