"""The one place that maps settings to backends, and the FastAPI dependencies built on it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from app.core.config import Settings
from app.core.pagination import CursorCodec
from app.core.security import AccessTokens, PasswordHasher
from app.errors import InvalidToken
from app.models import User
from app.repositories.base import FileRepository, ProjectRepository, UserRepository
from app.storage.base import FileStorage
from app.storage.signing import UrlSigner

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Backends:
    """The repositories and storage selected by settings, shared by every request."""

    user_repo: UserRepository
    project_repo: ProjectRepository
    file_repo: FileRepository
    file_storage: FileStorage
    closers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def network_bound(self) -> bool:
        parts = (self.user_repo, self.project_repo, self.file_repo, self.file_storage)
        return any(part.network_bound for part in parts)

    async def call(self, function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a service call inline for embedded backends (sub-millisecond, a thread hop would
        cost more) or in the threadpool when a backend crosses the network."""
        if self.network_bound:
            return await run_in_threadpool(function, *args, **kwargs)
        return function(*args, **kwargs)

    def close(self) -> None:
        for close in self.closers:
            close()


def build_repositories(
    settings: Settings,
) -> tuple[UserRepository, ProjectRepository, FileRepository, Callable[[], None]]:
    """Open the configured database; backend modules are imported only when selected."""
    if settings.DATABASE_TYPE == "memory":
        from app.repositories import memory

        db = memory.MemoryDatabase()
        return (
            memory.MemoryUserRepository(db),
            memory.MemoryProjectRepository(db),
            memory.MemoryFileRepository(db),
            lambda: None,
        )
    if settings.DATABASE_TYPE == "dynamodb":
        from app.core.aws import dynamodb_client
        from app.repositories import dynamodb

        tables = dynamodb.TableNames(
            users=settings.DYNAMODB_TABLE_PREFIX + settings.USERS_TABLE,
            projects=settings.DYNAMODB_TABLE_PREFIX + settings.PROJECTS_TABLE,
            files=settings.DYNAMODB_TABLE_PREFIX + settings.FILES_TABLE,
        )
        dynamo = dynamodb.DynamoDatabase(
            dynamodb_client(settings), tables, create=settings.AWS_AUTO_CREATE
        )
        return (
            dynamodb.DynamoUserRepository(dynamo),
            dynamodb.DynamoProjectRepository(dynamo),
            dynamodb.DynamoFileRepository(dynamo),
            dynamo.close,
        )
    from app.repositories import sql

    engine: sql.SqlDatabase
    if settings.DATABASE_TYPE == "duckdb":
        from app.repositories.duckdb import DuckDBDatabase

        engine = DuckDBDatabase(settings.DUCKDB_PATH)
    else:
        from app.repositories.sqlite import SQLiteDatabase

        engine = SQLiteDatabase(settings.SQLITE_PATH)
    return (
        sql.SqlUserRepository(engine),
        sql.SqlProjectRepository(engine),
        sql.SqlFileRepository(engine),
        engine.close,
    )


def build_url_signer(settings: Settings) -> UrlSigner:
    return UrlSigner(settings.SECRET_KEY.get_secret_value(), settings.PUBLIC_BASE_URL)


def build_storage(settings: Settings) -> FileStorage:
    """Open the configured file storage."""
    if settings.STORAGE_TYPE == "memory":
        from app.storage.memory import MemoryStorage

        return MemoryStorage(build_url_signer(settings))
    if settings.STORAGE_TYPE == "s3":
        from app.core.aws import s3_client
        from app.storage.s3 import S3Storage

        return S3Storage(s3_client(settings), settings.S3_BUCKET, create=settings.AWS_AUTO_CREATE)
    from app.storage.local import LocalStorage

    return LocalStorage(settings.LOCAL_STORAGE_PATH, build_url_signer(settings))


def build_backends(settings: Settings) -> Backends:
    """Everything a request or a notebook needs to reach the data, per the settings."""
    user_repo, project_repo, file_repo, close = build_repositories(settings)
    return Backends(user_repo, project_repo, file_repo, build_storage(settings), [close])


@dataclass
class AppContext:
    """What one running app holds for its whole life (`app.state.context`)."""

    settings: Settings
    backends: Backends
    hasher: PasswordHasher
    tokens: AccessTokens
    cursors: CursorCodec
    signer: UrlSigner

    @classmethod
    def from_settings(cls, settings: Settings, backends: Backends | None = None) -> AppContext:
        secret = settings.SECRET_KEY.get_secret_value()
        return cls(
            settings=settings,
            backends=backends or build_backends(settings),
            hasher=PasswordHasher(
                settings.ARGON2_MEMORY_KIB, settings.ARGON2_TIME_COST, settings.ARGON2_PARALLELISM
            ),
            tokens=AccessTokens(secret, settings.ACCESS_TOKEN_EXPIRE_MINUTES * 60),
            cursors=CursorCodec(secret),
            signer=build_url_signer(settings),
        )


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]


def get_settings_dep(context: Context) -> Settings:
    return context.settings


def get_backends(context: Context) -> Backends:
    return context.backends


def get_user_repo(context: Context) -> UserRepository:
    return context.backends.user_repo


def get_project_repo(context: Context) -> ProjectRepository:
    return context.backends.project_repo


def get_file_repo(context: Context) -> FileRepository:
    return context.backends.file_repo


def get_file_storage(context: Context) -> FileStorage:
    return context.backends.file_storage


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
BackendsDep = Annotated[Backends, Depends(get_backends)]
UserRepo = Annotated[UserRepository, Depends(get_user_repo)]
ProjectRepo = Annotated[ProjectRepository, Depends(get_project_repo)]
FileRepo = Annotated[FileRepository, Depends(get_file_repo)]
Storage = Annotated[FileStorage, Depends(get_file_storage)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login")


async def get_current_user(token: Annotated[str, Depends(oauth2_scheme)], context: Context) -> User:
    """The active user the bearer token speaks for; 401 for any bad, expired or orphan token."""
    user_id = context.tokens.subject(token)
    user = await context.backends.call(context.backends.user_repo.get_user, user_id)
    if user is None or not user.is_active:
        raise InvalidToken()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
