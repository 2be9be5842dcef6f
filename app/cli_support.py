"""What every `hangar` command shares: settings and backends, or a readable exit."""

from __future__ import annotations

from collections.abc import Callable

import typer
from pydantic import ValidationError

from app.backends import Backends, open_backends
from app.core.config import Settings, get_settings
from app.errors import BackendUnavailable


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


def open_or_exit(settings: Settings, *, mirrors: bool = True, bind: bool = True) -> Backends:
    """The configured backends, or the reason they cannot be opened and exit code 1."""
    try:
        return open_backends(settings, mirrors=mirrors, bind=bind)
    except BackendUnavailable as error:
        typer.echo(error.detail, err=True)
        raise typer.Exit(1) from None
