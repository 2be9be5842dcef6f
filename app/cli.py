"""The `hangar` command."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import ValidationError

from app.bench.command import bench
from app.core.config import Settings, get_settings
from app.migration.command import migrate

if TYPE_CHECKING:
    from app.dependencies import Backends

UVICORN_OPTIONS: dict[str, Any] = {"loop": "uvloop", "http": "httptools"}
"""uvicorn[standard]'s event loop and HTTP parser, named so a missing one fails loudly instead
of silently falling back to the slower pure-Python ones (`hangar bench` starts its reference
server with the same options)."""

cli = typer.Typer(
    help="Hangar: users, projects and files on the backends you configure.",
    no_args_is_help=True,
)


@cli.callback()
def _commands() -> None:
    """Users, projects and files on the backends you configure: pick a command below."""


def load_or_exit(load: Callable[[], Settings] = get_settings) -> Settings:
    """Settings (the process's, or what `load` reads), or a readable list of what is wrong
    with them and exit code 2."""
    try:
        return load()
    except ValidationError as error:
        lines = [
            f"  {'.'.join(str(part) for part in e['loc']) or 'settings'}: {e['msg']}"
            for e in error.errors()
        ]
        typer.echo("Invalid configuration:\n" + "\n".join(lines), err=True)
        raise typer.Exit(2) from None


def open_backends_or_exit(settings: Settings) -> Backends:
    """The configured backends, or the reason they cannot be opened and exit code 1."""
    from app.dependencies import build_backends
    from app.errors import BackendUnavailable

    try:
        return build_backends(settings)
    except BackendUnavailable as error:
        typer.echo(error.detail, err=True)
        raise typer.Exit(1) from None


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (sqlite and dynamodb only).")
    ] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request (costs throughput).")] = False,
    shutdown_timeout: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Seconds in-flight requests get to finish on SIGTERM [SHUTDOWN_TIMEOUT_SECONDS].",
        ),
    ] = None,
) -> None:
    """Run the API server (uvicorn)."""
    import uvicorn

    from app.core.logging import log_config

    settings = load_or_exit()
    if workers > 1 and "memory" in {settings.DATABASE_TYPE, settings.STORAGE_TYPE}:
        typer.echo("Memory backends live in one process: use --workers 1.", err=True)
        raise typer.Exit(2)
    if workers > 1 and settings.DATABASE_TYPE == "duckdb":
        typer.echo(
            "DuckDB allows one process per file: use --workers 1, or DATABASE_TYPE=sqlite or "
            "dynamodb to run several workers.",
            err=True,
        )
        raise typer.Exit(2)
    if "PUBLIC_BASE_URL" not in settings.model_fields_set:
        # Links of local storage must point at this server, whatever port it was given.
        link_host = "127.0.0.1" if host in {"0.0.0.0", "::"} else host  # noqa: S104
        os.environ["PUBLIC_BASE_URL"] = f"http://{link_host}:{port}"
        get_settings.cache_clear()
    typer.echo(
        f"Hangar on http://{host}:{port} (database: {settings.DATABASE_TYPE}, "
        f"storage: {settings.STORAGE_TYPE}, docs: /docs)"
    )
    # Workers import the app by name and inherit os.environ, PUBLIC_BASE_URL included.
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        reload=reload,
        workers=workers,
        access_log=access_log,
        timeout_graceful_shutdown=(
            settings.SHUTDOWN_TIMEOUT_SECONDS if shutdown_timeout is None else shutdown_timeout
        ),
        log_config=log_config(settings.LOG_FORMAT, settings.LOG_LEVEL),
        **UVICORN_OPTIONS,
    )


@cli.command()
def init() -> None:
    """Create what the configured backends need (DynamoDB tables, S3 bucket, database file,
    storage folder) when missing, so the service can start without AWS_AUTO_CREATE."""
    settings = load_or_exit().model_copy(update={"AWS_AUTO_CREATE": True})
    open_backends_or_exit(settings).close()
    typer.echo(f"Ready: database {settings.DATABASE_TYPE}, storage {settings.STORAGE_TYPE}")


@cli.command()
def doctor(
    fix: Annotated[bool, typer.Option(help="Repair what is found.")] = False,
    temp_age: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Temp files older than this many seconds are stale [TEMP_FILE_MAX_AGE_SECONDS].",
        ),
    ] = None,
) -> None:
    """Find what a crash can leave between database and storage (orphan bytes, records of
    deleted projects, files without bytes, stale temp files); exit 1 while problems remain."""
    from rich.console import Console
    from rich.table import Table

    from app import doctor as checks

    settings = load_or_exit()
    backends = open_backends_or_exit(settings)
    try:
        report = checks.doctor(
            backends,
            fix=fix,
            temp_file_max_age=settings.TEMP_FILE_MAX_AGE_SECONDS if temp_age is None else temp_age,
        )
    finally:
        backends.close()
    console = Console()
    if report.findings:
        table = Table("kind", "location", "detail", "state")
        for finding in report.findings:
            state = (
                "fixed" if finding.fixed else "problem" if finding.is_problem else "in progress?"
            )
            table.add_row(finding.kind.value, finding.location, finding.detail, state)
        console.print(table)
    console.print(
        f"{report.keys_checked} storage keys and {report.records_checked} file records checked; "
        f"{len(report.problems)} problem(s) remain."
    )
    if not report.clean:
        raise typer.Exit(1)


cli.command()(bench)
cli.command()(migrate)


def main() -> None:
    cli()
