"""The `hangar` command."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from app.core.config import Settings, get_settings

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
    """Keep `hangar <command>` a group even while it has a single command."""


def load_or_exit() -> Settings:
    """Settings, or a readable list of what is wrong with them and exit code 2."""
    try:
        return get_settings()
    except ValidationError as error:
        lines = [
            f"  {'.'.join(str(part) for part in e['loc']) or 'settings'}: {e['msg']}"
            for e in error.errors()
        ]
        typer.echo("Invalid configuration:\n" + "\n".join(lines), err=True)
        raise typer.Exit(2) from None


@cli.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (sqlite and dynamodb only).")
    ] = 1,
    access_log: Annotated[bool, typer.Option(help="Log every request (costs throughput).")] = False,
) -> None:
    """Run the API server (uvicorn)."""
    import uvicorn

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
        **UVICORN_OPTIONS,
    )


@cli.command()
def init() -> None:
    """Create what the configured backends need (DynamoDB tables, S3 bucket, database file,
    storage folder) when missing, so the service can start without AWS_AUTO_CREATE."""
    from app.dependencies import build_backends
    from app.errors import BackendUnavailable

    settings = load_or_exit().model_copy(update={"AWS_AUTO_CREATE": True})
    try:
        build_backends(settings).close()
    except BackendUnavailable as error:
        typer.echo(error.detail, err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Ready: database {settings.DATABASE_TYPE}, storage {settings.STORAGE_TYPE}")


def main() -> None:
    cli()
