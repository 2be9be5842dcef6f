"""`python -m benchmarks`: the benchmark's command; everything it runs is imported only when it
runs."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, get_args

import typer

from app.core.config import DatabaseType, StorageType

DATABASES: tuple[str, ...] = get_args(DatabaseType)
STORAGES: tuple[str, ...] = get_args(StorageType)
MODES = ("service", "http")

cli = typer.Typer(add_completion=False)


def _names(value: str, allowed: tuple[str, ...], option: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise typer.BadParameter(
            f"{', '.join(unknown)} (choose from {', '.join(allowed)})", param_hint=option
        )
    return names


@cli.command()
def bench(
    db: Annotated[str, typer.Option(help="Databases, comma-separated.")] = "memory,sqlite,duckdb",
    storage: Annotated[str, typer.Option(help="Storages, comma-separated.")] = "local",
    mode: Annotated[str, typer.Option(help="service (no HTTP), http, or both.")] = "service,http",
    workers: Annotated[
        str,
        typer.Option(
            help="Server processes to compare in HTTP mode (where the backends allow several)."
        ),
    ] = "1,2",
    users: Annotated[int, typer.Option(min=1)] = 100,
    projects: Annotated[int, typer.Option(min=1, help="Created over the users.")] = 10_000,
    requests: Annotated[int, typer.Option(min=1, help="At most, per operation.")] = 20_000,
    seconds: Annotated[float, typer.Option(min=0.1, help="At most, per operation.")] = 10.0,
    files: Annotated[int, typer.Option(min=1, help="1 MiB uploads and downloads.")] = 200,
    concurrency: Annotated[int, typer.Option(min=1, help="HTTP connections.")] = 32,
    memory: Annotated[
        str, typer.Option(help="Storages for the large-file memory test ('' skips it).")
    ] = "local",
    big_file_mib: Annotated[int, typer.Option(min=1)] = 1024,
    aws_endpoint: Annotated[
        str | None, typer.Option(help="For dynamodb/s3; default: a local moto server.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for bench.json and bench.png.")] = Path(
        "benchmarks/results"
    ),
) -> None:
    """Measure one workload on the backends named: ops/s and p50/p99 per operation."""
    from rich.console import Console

    from benchmarks.run import run_bench
    from benchmarks.workload import Workload

    run_bench(
        modes=_names(mode, MODES, "--mode"),
        databases=_names(db, DATABASES, "--db"),
        storages=_names(storage, STORAGES, "--storage"),
        workers=[int(n) for n in workers.split(",") if n.strip()],
        workload=Workload(
            users=users,
            projects=projects,
            requests=requests,
            seconds=seconds,
            files=files,
            concurrency=concurrency,
        ),
        memory_storages=_names(memory, STORAGES, "--memory"),
        big_file_mib=big_file_mib,
        out=out,
        aws_endpoint=aws_endpoint,
        console=Console(width=None if sys.stdout.isatty() else 160),  # tables unsquashed in logs
    )


if __name__ == "__main__":
    cli()
