"""The `hangar migrate` command; everything it runs is imported only when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

SPEC_HELP = (
    "DATABASE[:LOCATION],STORAGE[:LOCATION], e.g. duckdb:./data/app.db,local:./uploads or "
    "dynamodb:PREFIX,s3:BUCKET; other settings come from the environment (or the env file)."
)


def migrate(
    source_spec: Annotated[str | None, typer.Option("--from", help=f"Source: {SPEC_HELP}")] = None,
    target_spec: Annotated[str | None, typer.Option("--to", help=f"Target: {SPEC_HELP}")] = None,
    source_env: Annotated[
        Path | None,
        typer.Option(
            "--from-env",
            exists=True,
            dir_okay=False,
            help="Env file of the source's settings (over the environment).",
        ),
    ] = None,
    target_env: Annotated[
        Path | None,
        typer.Option(
            "--to-env",
            exists=True,
            dir_okay=False,
            help="Env file of the target's settings (over the environment).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option(help="Print what would be copied; write nothing.")
    ] = False,
    verify: Annotated[
        bool,
        typer.Option(help="Compare both sides (counts, items, sha256 of bytes); write nothing."),
    ] = False,
    prune: Annotated[
        bool,
        typer.Option(
            help="Also delete target items absent from the source and update those that differ."
        ),
    ] = False,
) -> None:
    """Copy every user (password hashes included), project and file from one database + storage
    to another, keeping ids and timestamps; reruns copy only what is missing. Exit 1 on any
    conflict or difference, 2 on a usage error. Sessions and login counters are not copied."""
    from app.migration.console import run

    run(
        source_spec=source_spec,
        target_spec=target_spec,
        source_env=source_env,
        target_env=target_env,
        dry_run=dry_run,
        verify=verify,
        prune=prune,
    )
