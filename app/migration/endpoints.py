"""What `--from` and `--to` name: a database and a storage with their settings.

A spec is `DATABASE[:LOCATION],STORAGE[:LOCATION]`, e.g. `duckdb:./data/app.db,local:./uploads`
or `dynamodb:prod-,s3:prod-files`. It overrides the type and, when given, the one setting that
locates that backend (below) on a base: the process settings, or an env file's. Everything else
(AWS endpoints, table names, region) comes from the base, so backends are then opened by the
same `build_repositories` / `build_storage` as the service.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from dotenv import dotenv_values

from app.core.config import DatabaseType, Settings, StorageType
from app.dependencies import Backends, build_repositories, build_storage

LOCATIONS: dict[str, tuple[str, type[Any]]] = {
    "duckdb": ("DUCKDB_PATH", Path),
    "sqlite": ("SQLITE_PATH", Path),
    "dynamodb": ("DYNAMODB_TABLE_PREFIX", str),
    "local": ("LOCAL_STORAGE_PATH", Path),
    "s3": ("S3_BUCKET", str),
}
"""The setting that a location after `:` sets, per backend type (memory has none)."""


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
        (database, "DATABASE_TYPE", get_args(DatabaseType)),
        (storage, "STORAGE_TYPE", get_args(StorageType)),
    )
    for part, setting, allowed in parts:
        name, colon, location = part.strip().partition(":")
        if name not in allowed:
            raise ValueError(f"{name!r} is not one of {', '.join(allowed)}")
        update[setting] = name
        if colon:
            if name not in LOCATIONS:
                raise ValueError(f"{part!r}: {name} takes no location")
            located, convert = LOCATIONS[name]
            update[located] = convert(location)
    return base.model_copy(update=update)


def identity(settings: Settings) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Where the database and the storage live: equal identities are the same data."""
    database: tuple[str, ...] = (settings.DATABASE_TYPE,)
    if settings.DATABASE_TYPE == "duckdb":
        database += (str(settings.DUCKDB_PATH.resolve()),)
    elif settings.DATABASE_TYPE == "sqlite":
        database += (str(settings.SQLITE_PATH.resolve()),)
    elif settings.DATABASE_TYPE == "dynamodb":
        endpoint = settings.DYNAMODB_ENDPOINT_URL or settings.AWS_ENDPOINT_URL or ""
        database += (endpoint, settings.AWS_REGION, settings.DYNAMODB_TABLE_PREFIX)
    storage: tuple[str, ...] = (settings.STORAGE_TYPE,)
    if settings.STORAGE_TYPE == "local":
        storage += (str(settings.LOCAL_STORAGE_PATH.resolve()),)
    elif settings.STORAGE_TYPE == "s3":
        endpoint = settings.S3_ENDPOINT_URL or settings.AWS_ENDPOINT_URL or ""
        storage += (endpoint, settings.S3_BUCKET)
    return database, storage


def describe(settings: Settings) -> str:
    database, storage = identity(settings)
    return f"{':'.join(filter(None, database))} + {':'.join(filter(None, storage))}"


def open_backends(settings: Settings) -> Backends:
    """The database and storage of `settings`, without mirrors: a migration reads and writes
    exactly the two sides it names."""
    return Backends.assemble(build_repositories(settings), build_storage(settings))
