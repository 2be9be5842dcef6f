"""The `hangar` command line, run in-process on the settings a test built."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from app.cli import cli
from app.core.config import Settings, get_settings

CliRun = Callable[..., Result]


@pytest.fixture
def hangar(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Settings], CliRun]]:
    """`hangar(settings)` makes those the process settings (through the environment, as a
    deployment would) and returns a runner of `hangar` arguments."""

    def configure(settings: Settings) -> CliRun:
        monkeypatch.setenv("APP_ENV", "test")  # no such env file: the settings are all here
        for name, value in settings.model_dump(exclude={"APP_ENV"}).items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            elif isinstance(value, str | Path | bool | int | float):
                monkeypatch.setenv(name, str(value))
        get_settings.cache_clear()
        return lambda *args: CliRunner().invoke(cli, list(args))

    yield configure
    get_settings.cache_clear()
