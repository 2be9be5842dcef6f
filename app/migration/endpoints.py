"""What `--from` and `--to` name: a database and a storage with their settings.

A spec is `DATABASE[:LOCATION],STORAGE[:LOCATION]`, e.g. `duckdb:./data/app.db,local:./uploads`
or `dynamodb:prod-,s3:prod-files`. It overrides the type and, when given, the one setting that
locates that backend (its module's `LOCATION_SETTING`) on a base: the process settings, or an
env file's. Everything else (AWS endpoints, table names, region) comes from the base, so
backends are then opened by the same `app.backends` as the service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from dotenv import dotenv_values

from app.backends import database_module, identity, storage_module
from app.core.config import DatabaseType, Settings, StorageType


def settings_from_file(path: Path) -> Settings:
    """A profile's settings whose file wins over the environment (which still supplies what
    the file leaves out, such as credentials): `--from-env .env.local` means that file even in
    a shell configured for another stack."""
    values: dict[str, Any] = {
        name.upper(): value for name, value in dotenv_values(path).items() if value is not None
    }
    return Settings(_env_file=None, **values)


def apply_spec(base: Settings, spec: str) -> Settings:
    """`base` with the database and storage of `spec`; ValueError saying what is wrong."""
    database, comma, storage = spec.partition(",")
    if not comma:
        raise ValueError(f"{spec!r} should be DATABASE[:LOCATION],STORAGE[:LOCATION]")
    update: dict[str, Any] = {}
    parts = (
        (database, "DATABASE_TYPE", get_args(DatabaseType), database_module),
        (storage, "STORAGE_TYPE", get_args(StorageType), storage_module),
    )
    for part, setting, allowed, module in parts:
        name, colon, location = part.strip().partition(":")
        if name not in allowed:
            raise ValueError(f"{name!r} is not one of {', '.join(allowed)}")
        update[setting] = name
        if colon:
            located = module(name).LOCATION_SETTING
            if located is None:
                raise ValueError(f"{part!r}: {name} takes no location")
            convert = Settings.model_fields[located].annotation
            assert convert in (str, Path), located
            update[located] = convert(location)
    return base.model_copy(update=update)


def missing_locations(settings: Settings) -> dict[str, Path]:
    """The parts (`DATABASE_TYPE`, `STORAGE_TYPE`) located by a file or folder that does not
    exist, with that path: opening such a part creates it."""
    missing: dict[str, Path] = {}
    for setting, module in (("DATABASE_TYPE", database_module), ("STORAGE_TYPE", storage_module)):
        located = module(getattr(settings, setting)).LOCATION_SETTING
        path = getattr(settings, located) if located else None
        if isinstance(path, Path) and not path.exists():
            missing[setting] = path
    return missing


def describe(settings: Settings) -> str:
    database, storage = identity(settings)
    return f"{':'.join(filter(None, database))} + {':'.join(filter(None, storage))}"
