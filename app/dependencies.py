"""FastAPI dependencies: the app's context, its backends and the caller, for every route.

Routes take what they need in their signature (`owner: CurrentUser, repo: ProjectRepo`), so
`app.dependency_overrides` can swap any of them in a test, and a router written as FastAPI's
tutorial writes one works alongside Hangar's. `app.testing` logs a test in without a password.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, ParamSpec, TypeVar

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from app.backends import Backends
from app.context import AppContext
from app.errors import NotSuperuser
from app.mail import base as mail
from app.models import Session, User
from app.repositories.base import (
    ActionTokenRepository,
    FileRepository,
    ProjectRepository,
    SessionRepository,
    UserRepository,
)
from app.repositories.inline import WaitsOnLoop, WouldBlock, inline_call, run_inline
from app.routers.auth.services import authorize
from app.storage.base import FileStorage

P = ParamSpec("P")
R = TypeVar("R")
LOGIN_PATH = "/api/v1/auth/login"


async def call(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a service call inline when every backend it is handed (or whose method it is) is
    embedded, whose statements take well under a millisecond, less than a thread hop; in the
    threadpool when one crosses the network, so that the event loop never waits on it. An
    inline call that joins a group commit before writing anything (`WaitsOnLoop`) runs again
    where it can wait on the loop (`run_inline`); one that meets a lock (`WouldBlock`) runs
    again in the threadpool, where it may wait."""
    parts = (getattr(function, "__self__", None), *args, *kwargs.values())
    if any(getattr(part, "network_bound", False) is True for part in parts):
        return await run_in_threadpool(function, *args, **kwargs)
    try:
        if function not in _WAITED_ON_LOOP:
            inline_call.begin_direct()
            try:
                return function(*args, **kwargs)
            except WaitsOnLoop:
                _WAITED_ON_LOOP.add(function)
            finally:
                inline_call.end_direct()
        return await run_inline(function, *args, **kwargs)
    except WouldBlock:
        return await run_in_threadpool(function, *args, **kwargs)


_WAITED_ON_LOOP: set[Callable[..., object]] = set()
"""Service calls that joined a group commit once (creates, on DuckDB): they start where they
can wait, rather than run until the insert and then again."""


# `async def`, like every dependency here: FastAPI runs a plain `def` dependency in the
# threadpool, a thread round trip per request for a field read.
async def get_context(request: Request) -> AppContext:
    """The running app's settings, backends and helpers."""
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]


def _backends(request: Request) -> Backends:
    backends: Backends = request.app.state.context.backends
    return backends


# Each reads the request itself rather than taking `Context`: FastAPI solves a sub-dependency
# again for every dependency that takes it, cached or not, and these run on every request.
async def get_user_repo(request: Request) -> UserRepository:
    return _backends(request).user_repo


async def get_project_repo(request: Request) -> ProjectRepository:
    return _backends(request).project_repo


async def get_file_repo(request: Request) -> FileRepository:
    return _backends(request).file_repo


async def get_session_repo(request: Request) -> SessionRepository:
    return _backends(request).session_repo


async def get_file_storage(request: Request) -> FileStorage:
    return _backends(request).file_storage


async def get_token_repo(request: Request) -> ActionTokenRepository:
    return _backends(request).token_repo


async def get_mailer(request: Request) -> mail.Mailer:
    return _backends(request).mailer


UserRepo = Annotated[UserRepository, Depends(get_user_repo)]
ProjectRepo = Annotated[ProjectRepository, Depends(get_project_repo)]
FileRepo = Annotated[FileRepository, Depends(get_file_repo)]
SessionRepo = Annotated[SessionRepository, Depends(get_session_repo)]
Storage = Annotated[FileStorage, Depends(get_file_storage)]
TokenRepo = Annotated[ActionTokenRepository, Depends(get_token_repo)]
Mailer = Annotated[mail.Mailer, Depends(get_mailer)]

# The scheme keeps the name OpenAPI clients were generated with.
bearer = OAuth2PasswordBearer(tokenUrl=LOGIN_PATH, scheme_name="OAuth2PasswordBearer")
"""The bearer token of the request (401 without one); OpenAPI shows the password flow."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who an authenticated request comes from: the active user and the live session its
    bearer token speaks for."""

    user: User
    session: Session


async def get_caller(request: Request, token: Annotated[str, Depends(bearer)]) -> Caller:
    """The caller of a valid token whose session is live and whose user is active, looked up
    in the app's own session store. Solved after the request's body has arrived, so a
    session revoked meanwhile is refused. `app.testing.log_in_as` overrides it in tests."""
    context = await get_context(request)
    sessions = context.backends.session_repo
    user, session = await call(authorize, token, sessions=sessions, tokens=context.tokens)
    return Caller(user, session)


Authenticated = Annotated[Caller, Depends(get_caller)]


async def get_current_user(caller: Authenticated) -> User:
    """The caller's user, for routes that need nothing else of the session."""
    return caller.user


CurrentUser = Annotated[User, Depends(get_current_user)]


async def get_current_superuser(user: CurrentUser) -> User:
    """The caller's user if an administrator; 403 for anyone else."""
    if not user.is_superuser:
        raise NotSuperuser()
    return user


CurrentSuperuser = Annotated[User, Depends(get_current_superuser)]
