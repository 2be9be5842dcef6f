"""Jupyter entry point: the embedded stack in one call, wired exactly as the API wires it.

`repos = setup_local_dev()` gives DuckDB + local files; `repos["user_repo"]` and friends are
the repositories the API would use, and `create_app(repos.settings, repos.backends)` serves
the API on those very objects, so a cell and a request run the same code on the same data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from app.backends import Backends, open_backends
from app.core.config import DatabaseType, MailType, Settings, StorageType, get_settings
from app.mail.base import Mailer
from app.repositories.base import FileRepository, ProjectRepository, UserRepository
from app.storage.base import FileStorage

Part = UserRepository | ProjectRepository | FileRepository | FileStorage | Mailer
PARTS = ("user_repo", "project_repo", "file_repo", "file_storage", "mailer")
FILE_SETTINGS = ("DUCKDB_PATH", "SQLITE_PATH", "LOCAL_STORAGE_PATH")
"""Where the embedded stack keeps its files: under `root`, at the places of the Settings
defaults, which `make run` (the `local` profile) uses under its working directory, so the
two open the same database with the same storage."""


@dataclass(frozen=True)
class DevRepositories(Mapping[str, Part]):
    """The backends a notebook works with: a mapping (`repos["user_repo"]`) for quick cells,
    and `.settings` / `.backends` to hand to `create_app` so the API shares them."""

    settings: Settings
    backends: Backends

    def __getitem__(self, name: str) -> Part:
        if name not in PARTS:
            raise KeyError(name)
        part: Part = getattr(self.backends, name)
        return part

    def __iter__(self) -> Iterator[str]:
        return iter(PARTS)

    def __len__(self) -> int:
        return len(PARTS)

    def close(self) -> None:
        """Release the database file, e.g. before a server process opens it."""
        self.backends.close()


def setup_local_dev(
    root: str | os.PathLike[str] = ".",
    *,
    database: DatabaseType = "duckdb",
    storage: StorageType = "local",
    mail: MailType = "console",
) -> DevRepositories:
    """Switch this process to the local profile with its files under `root`, and return the
    backends the API would use. The environment is set (not just a Settings object built) so
    that `get_settings()`, `create_app()` and the CLI in this process all see the same profile.
    `mail="memory"` keeps what the app mails in `repos["mailer"].sent`, for a cell to read."""
    base = Path(root).resolve()
    paths = {name: base / Settings.model_fields[name].default for name in FILE_SETTINGS}
    os.environ.update(
        {
            "APP_ENV": "local",
            "DATABASE_TYPE": database,
            "STORAGE_TYPE": storage,
            "MAIL_TYPE": mail,
            **{name: str(path) for name, path in paths.items()},
        }
    )
    get_settings.cache_clear()
    folders = (
        paths["DUCKDB_PATH"].parent,
        paths["SQLITE_PATH"].parent,
        paths["LOCAL_STORAGE_PATH"],
    )
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    return get_repositories()


def get_repositories(settings: Settings | None = None) -> DevRepositories:
    """Open the backends for `settings` (default: the process's) through `open_backends`,
    the same wiring the API uses, so a notebook never diverges from the service."""
    settings = settings or get_settings()
    return DevRepositories(settings, open_backends(settings))
