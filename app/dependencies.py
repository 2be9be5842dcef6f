"""The one place that maps settings to backends, and the FastAPI dependencies built on it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Annotated, Any, ParamSpec, TypeVar

from fastapi import Depends, Request, Response
from fastapi.dependencies.utils import get_parameterless_sub_dependant
from fastapi.routing import APIRoute
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from app.core.config import Settings
from app.core.pagination import CursorCodec
from app.core.security import AccessTokens, PasswordHasher
from app.models import Session, User
from app.repositories.base import (
    FileRepository,
    LoginAttemptRepository,
    ProjectRepository,
    SessionRepository,
    UserRepository,
)
from app.routers.auth.services import authorize
from app.routers.auth.throttle import LoginThrottle
from app.routers.common import UNAUTHORIZED
from app.storage.base import FileStorage
from app.storage.signing import UrlSigner

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Repositories:
    """The repositories of one database, and how to release it."""

    user_repo: UserRepository
    project_repo: ProjectRepository
    file_repo: FileRepository
    session_repo: SessionRepository
    attempt_repo: LoginAttemptRepository
    close: Callable[[], None]


@dataclass
class Backends:
    """The repositories and storage selected by settings, shared by every request."""

    user_repo: UserRepository
    project_repo: ProjectRepository
    file_repo: FileRepository
    file_storage: FileStorage
    session_repo: SessionRepository
    attempt_repo: LoginAttemptRepository
    closers: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def assemble(cls, repositories: Repositories, storage: FileStorage) -> Backends:
        return cls(
            user_repo=repositories.user_repo,
            project_repo=repositories.project_repo,
            file_repo=repositories.file_repo,
            file_storage=storage,
            session_repo=repositories.session_repo,
            attempt_repo=repositories.attempt_repo,
            closers=[repositories.close],
        )

    @cached_property
    def network_bound(self) -> bool:
        """Asked on every request, answered once."""
        parts = (
            self.user_repo,
            self.project_repo,
            self.file_repo,
            self.file_storage,
            self.session_repo,
            self.attempt_repo,
        )
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


def build_repositories(settings: Settings) -> Repositories:
    """Open the configured database; backend modules are imported only when selected."""
    if settings.DATABASE_TYPE == "memory":
        from app.repositories import memory

        db = memory.MemoryDatabase()
        return Repositories(
            memory.MemoryUserRepository(db),
            memory.MemoryProjectRepository(db),
            memory.MemoryFileRepository(db),
            memory.MemorySessionRepository(db),
            memory.MemoryLoginAttemptRepository(db),
            close=lambda: None,
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
        return Repositories(
            dynamodb.DynamoUserRepository(dynamo),
            dynamodb.DynamoProjectRepository(dynamo),
            dynamodb.DynamoFileRepository(dynamo),
            dynamodb.DynamoSessionRepository(dynamo),
            dynamodb.DynamoLoginAttemptRepository(dynamo),
            close=dynamo.close,
        )
    from app.repositories import sql

    engine: sql.SqlDatabase
    if settings.DATABASE_TYPE == "duckdb":
        from app.repositories.duckdb import DuckDBDatabase, open_cached

        if settings.DUCKDB_CACHE:
            cached, close = open_cached(settings.DUCKDB_PATH)
            return Repositories(*cached.repositories(), close=close)
        engine = DuckDBDatabase(settings.DUCKDB_PATH)
    else:
        from app.repositories.sqlite import SQLiteDatabase

        engine = SQLiteDatabase(settings.SQLITE_PATH)
    return Repositories(
        sql.SqlUserRepository(engine),
        sql.SqlProjectRepository(engine),
        sql.SqlFileRepository(engine),
        sql.SqlSessionRepository(engine),
        sql.SqlLoginAttemptRepository(engine),
        close=engine.close,
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
    backends = Backends.assemble(build_repositories(settings), build_storage(settings))
    if settings.DATABASE_MIRROR_TYPE is None and settings.STORAGE_MIRROR_TYPE is None:
        return backends
    from app.migration.mirror import attach_mirrors

    return attach_mirrors(backends, settings)


@dataclass
class AppContext:
    """What one running app holds for its whole life (`app.state.context`)."""

    settings: Settings
    backends: Backends
    hasher: PasswordHasher
    tokens: AccessTokens
    cursors: CursorCodec
    signer: UrlSigner
    throttle: LoginThrottle

    @classmethod
    def from_settings(cls, settings: Settings, backends: Backends | None = None) -> AppContext:
        secret = settings.SECRET_KEY.get_secret_value()
        backends = backends or build_backends(settings)
        return cls(
            settings=settings,
            backends=backends,
            hasher=PasswordHasher(
                settings.ARGON2_MEMORY_KIB, settings.ARGON2_TIME_COST, settings.ARGON2_PARALLELISM
            ),
            tokens=AccessTokens(
                secret,
                settings.ACCESS_TOKEN_EXPIRE_MINUTES * 60,
                settings.REFRESH_TOKEN_EXPIRE_DAYS * 86400,
            ),
            cursors=CursorCodec(secret),
            signer=build_url_signer(settings),
            throttle=LoginThrottle(
                backends.attempt_repo,
                max_per_account=settings.LOGIN_MAX_FAILURES_PER_ACCOUNT,
                max_per_address=settings.LOGIN_MAX_FAILURES_PER_ADDRESS,
                window_seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS,
            ),
        )


async def get_context(request: Request) -> AppContext:
    """`async def`, like every dependency here: FastAPI runs a plain `def` dependency in the
    threadpool, a thread round trip per request for a field read."""
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]


async def get_user_repo(context: Context) -> UserRepository:
    return context.backends.user_repo


async def get_project_repo(context: Context) -> ProjectRepository:
    return context.backends.project_repo


async def get_file_repo(context: Context) -> FileRepository:
    return context.backends.file_repo


async def get_file_storage(context: Context) -> FileStorage:
    return context.backends.file_storage


UserRepo = Annotated[UserRepository, Depends(get_user_repo)]
ProjectRepo = Annotated[ProjectRepository, Depends(get_project_repo)]
FileRepo = Annotated[FileRepository, Depends(get_file_repo)]
Storage = Annotated[FileStorage, Depends(get_file_storage)]


_CALLER_KEY = "hangar.caller"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who an authenticated request comes from (the active user and live session its bearer
    token speaks for) and the app's context the route works with."""

    user: User
    session: Session
    context: AppContext

    @property
    def backends(self) -> Backends:
        return self.context.backends

    @classmethod
    def of(cls, request: Request) -> Caller:
        """The caller an `AuthenticatedRoute` found before its endpoint ran."""
        try:
            caller: Caller = request.scope[_CALLER_KEY]
        except KeyError:
            raise RuntimeError(f"{request.url.path}: not an AuthenticatedRoute") from None
        return caller


class BearerCaller(OAuth2PasswordBearer):
    """The whole of authentication in one call: `AuthenticatedRoute` makes it before Hangar's
    routes run, and `Authenticated` offers it as a dependency to routes added in a notebook or
    an extension. OpenAPI shows it as the OAuth2 password flow."""

    async def __call__(self, request: Request) -> Caller:  # type: ignore[override]
        token = await super().__call__(request)
        assert token is not None  # auto_error: a missing token has raised the 401 already
        context = await get_context(request)
        backends = context.backends
        user, session = await backends.call(
            authorize, token, sessions=backends.session_repo, tokens=context.tokens
        )
        return Caller(user, session, context)


# The scheme keeps the name OpenAPI clients were generated with.
bearer = BearerCaller(tokenUrl="/api/v1/auth/login", scheme_name="OAuth2PasswordBearer")
Authenticated = Annotated[Caller, Depends(bearer)]


async def get_current_user(caller: Authenticated) -> User:
    """The caller's user alone, for an added route that needs nothing else."""
    return caller.user


CurrentUser = Annotated[User, Depends(get_current_user)]


class AuthenticatedRoute(APIRoute):
    """The route class of routers whose every route needs a caller (`APIRouter(route_class=
    AuthenticatedRoute)`); the endpoint takes `request: Request` and reads `Caller.of(request)`.

    Its routes are documented with the bearer scheme and a 401. The token is checked before
    FastAPI reads the request, so an unauthenticated upload is refused before its body is
    spooled, and outside FastAPI's dependency solving, which costs a request 60k instructions
    (11% of a page request) even for a cached dependency. OpenAPI still shows the bearer
    scheme: it reads the route's `dependant`, which gets the bearer once the request handler
    has been built without it."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **settings: Any) -> None:
        settings["responses"] = {**UNAUTHORIZED, **(settings.get("responses") or {})}
        super().__init__(path, endpoint, **settings)
        documented = get_parameterless_sub_dependant(depends=Depends(bearer), path=self.path_format)
        self.dependant = replace(
            self.dependant, dependencies=[documented, *self.dependant.dependencies]
        )

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def authenticated(request: Request) -> Response:
            request.scope[_CALLER_KEY] = await bearer(request)
            return await handler(request)

        return authenticated
