"""The one place that turns settings into backends: repositories, storage, their mirrors, and
the mailer.

Used alike by the API, the CLI, doctor, migrate, the notebook and the tests; it knows nothing
of HTTP. A backend is a module found by name in `DATABASES`, `STORAGES` or `MAILERS`: the module
opens itself from the settings (`open_repositories` / `open_storage` / `open_mailer`), says
which setting locates it
and whether one process must own it. Adding a database is one module, one line below, its
settings in `Settings`, and its contract-test fixture. Modules are imported only when selected,
so a stack never loads the libraries of another.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

from app.core.config import Settings
from app.mail.base import Mailer, MailModule
from app.mail.console import ConsoleMailer
from app.mirroring import MirrorJournal
from app.repositories.base import (
    ActionTokenRepository,
    DatabaseModule,
    FileRepository,
    LoginAttemptRepository,
    ProjectRepository,
    Repositories,
    SessionRepository,
    UserRepository,
)
from app.repositories.mirror import (
    MirroredFileRepository,
    MirroredProjectRepository,
    MirroredUserRepository,
)
from app.storage.base import FileStorage, StorageModule
from app.storage.mirror import MirroredStorage

DATABASES: dict[str, str] = {  # a test holds these equal to DatabaseType and StorageType
    "duckdb": "app.repositories.duckdb",
    "sqlite": "app.repositories.sqlite",
    "memory": "app.repositories.memory",
    "dynamodb": "app.repositories.dynamodb",
}
STORAGES: dict[str, str] = {
    "local": "app.storage.local",
    "memory": "app.storage.memory",
    "s3": "app.storage.s3",
}
MAILERS: dict[str, str] = {  # held equal to MailType
    "console": "app.mail.console",
    "memory": "app.mail.memory",
    "smtp": "app.mail.smtp",
    "ses": "app.mail.ses",
}


def database_module(database_type: str) -> DatabaseModule:
    return cast(DatabaseModule, importlib.import_module(DATABASES[database_type]))


def storage_module(storage_type: str) -> StorageModule:
    return cast(StorageModule, importlib.import_module(STORAGES[storage_type]))


def mail_module(mail_type: str) -> MailModule:
    return cast(MailModule, importlib.import_module(MAILERS[mail_type]))


def open_repositories(settings: Settings) -> Repositories:
    """Open the configured database."""
    return database_module(settings.DATABASE_TYPE).open_repositories(settings)


def open_storage(settings: Settings) -> FileStorage:
    """Open the configured file storage."""
    return storage_module(settings.STORAGE_TYPE).open_storage(settings)


def open_mailer(settings: Settings) -> Mailer:
    """Open the configured mail backend."""
    return mail_module(settings.MAIL_TYPE).open_mailer(settings)


def identity(settings: Settings) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Where the database and the storage live: equal identities are the same data."""
    database = database_module(settings.DATABASE_TYPE).locate(settings)
    storage = storage_module(settings.STORAGE_TYPE).locate(settings)
    return (settings.DATABASE_TYPE, *database), (settings.STORAGE_TYPE, *storage)


def bind_storage(storage: FileStorage, database_id: str) -> None:
    """Record in `storage` that this database keeps files there. An empty storage is bound at
    once; one bound to other databases is bound to this one too, so that none of them takes
    another's files for its own. A storage that holds files but names no database (filled
    before bindings existed) stays unbound, since whose files those are is unknown: the
    doctor only reports them until `hangar doctor --claim`."""
    bound = storage.database_ids()
    if database_id not in bound and (bound or next(iter(storage.list_keys()), None) is None):
        storage.bind_database(database_id)


def one_process(settings: Settings) -> str | None:
    """The backend that only one process may serve, if the settings name one."""
    if database_module(settings.DATABASE_TYPE).ONE_PROCESS:
        return settings.DATABASE_TYPE
    if storage_module(settings.STORAGE_TYPE).ONE_PROCESS:
        return settings.STORAGE_TYPE
    return None


@dataclass
class Backends:
    """The repositories, storage and mailer selected by settings, shared by every request."""

    user_repo: UserRepository
    project_repo: ProjectRepository
    file_repo: FileRepository
    file_storage: FileStorage
    session_repo: SessionRepository
    attempt_repo: LoginAttemptRepository
    token_repo: ActionTokenRepository
    database_id: str
    mailer: Mailer
    closers: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def assemble(
        cls,
        repositories: Repositories,
        storage: FileStorage,
        mailer: Mailer | None = None,
        *,
        bind: bool = True,
    ) -> Backends:
        """One database and the storage of its files, which records the pair (`bind_storage`)
        unless `bind` is off (a run that must write nothing); mail goes to `mailer`, or is
        printed."""
        if bind:
            bind_storage(storage, repositories.database_id)
        mailer = mailer or ConsoleMailer(Settings.model_fields["MAIL_FROM"].default)
        return cls(
            user_repo=repositories.user_repo,
            project_repo=repositories.project_repo,
            file_repo=repositories.file_repo,
            file_storage=storage,
            session_repo=repositories.session_repo,
            attempt_repo=repositories.attempt_repo,
            token_repo=repositories.token_repo,
            database_id=repositories.database_id,
            mailer=mailer,
            closers=[repositories.close, mailer.close],
        )

    def owns_storage(self, *also: str) -> bool:
        """Whether every key in the storage is provably this database's (or one of the
        databases `also` names): the storage is bound to it and to no other. Only then may a
        repair or a prune delete bytes it has no record of, or bytes whose record it deletes."""
        bound = self.file_storage.database_ids()
        return self.database_id in bound and bound <= {self.database_id, *also}

    def close(self) -> None:
        for close in self.closers:
            close()


def open_backends(settings: Settings, *, mirrors: bool = True, bind: bool = True) -> Backends:
    """Everything a request or a notebook needs to reach the data, per the settings; with
    `mirrors=False` exactly the primary database and storage (what a migration reads), with
    `bind=False` without recording the pair in the storage."""
    backends = Backends.assemble(
        open_repositories(settings), open_storage(settings), open_mailer(settings), bind=bind
    )
    if not mirrors:
        return backends
    return attach_mirrors(backends, settings)


def attach_mirrors(backends: Backends, settings: Settings) -> Backends:
    """Wrap the primary backends with the mirrors the settings name; each mirror is opened
    like a primary, on the settings with its type swapped in."""
    journal = MirrorJournal(settings.MIRROR_JOURNAL_PATH)
    if settings.DATABASE_MIRROR_TYPE is not None:
        mirror = open_repositories(
            settings.model_copy(update={"DATABASE_TYPE": settings.DATABASE_MIRROR_TYPE})
        )
        backends = dataclasses.replace(
            backends,
            user_repo=MirroredUserRepository(backends.user_repo, mirror.user_repo, journal),
            project_repo=MirroredProjectRepository(
                backends.project_repo, mirror.project_repo, journal
            ),
            file_repo=MirroredFileRepository(backends.file_repo, mirror.file_repo, journal),
            closers=[*backends.closers, mirror.close],
        )
    if settings.STORAGE_MIRROR_TYPE is not None:
        mirror_storage = open_storage(
            settings.model_copy(update={"STORAGE_TYPE": settings.STORAGE_MIRROR_TYPE})
        )
        # The mirror receives this database's files, so it is bound to it like the primary.
        bind_storage(mirror_storage, backends.database_id)
        backends = dataclasses.replace(
            backends,
            file_storage=MirroredStorage(backends.file_storage, mirror_storage, journal),
        )
    return backends
