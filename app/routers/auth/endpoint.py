"""Auth routes: translate HTTP to the auth services and back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from app.dependencies import AuthenticatedRoute, Caller, Context
from app.models import User
from app.routers.auth import services
from app.routers.auth.interface import (
    PasswordChange,
    PasswordConfirmation,
    RefreshRequest,
    TokenOut,
    UserOut,
    UserRegister,
    UserUpdate,
)
from app.routers.common import responses

router = APIRouter(prefix="/auth", tags=["auth"])
# The caller's own session and account: the same prefix, every route authenticated.
account_router = APIRouter(prefix="/auth", tags=["auth"], route_class=AuthenticatedRoute)
NO_CONTENT = status.HTTP_204_NO_CONTENT


def _token_out(pair: services.TokenPair) -> TokenOut:
    return TokenOut(
        access_token=pair.access_token,
        expires_in=pair.expires_in,
        refresh_token=pair.refresh_token,
        refresh_expires_in=pair.refresh_expires_in,
    )


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=responses(_409="Email already registered"),
)
async def register(body: UserRegister, context: Context) -> User:
    """Create an account. Hashing takes tens of milliseconds, so it runs in the threadpool."""
    return await run_in_threadpool(
        services.register_user, body, context.backends.user_repo, context.hasher
    )


@router.post(
    "/login",
    response_model=TokenOut,
    responses=responses(_401="Bad credentials", _429="Too many failed logins"),
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, context: Context
) -> TokenOut:
    """OAuth2 password flow (`username` is the email): an access and a refresh token."""
    backends = context.backends
    pair = await run_in_threadpool(
        services.login,
        form.username,
        form.password,
        client_address=request.client.host if request.client else None,
        repo=backends.user_repo,
        sessions=backends.session_repo,
        hasher=context.hasher,
        tokens=context.tokens,
        throttle=context.throttle,
    )
    return _token_out(pair)


@router.post("/refresh", response_model=TokenOut, responses=responses(_401="Invalid refresh token"))
async def refresh(body: RefreshRequest, context: Context) -> TokenOut:
    """Trade a refresh token for a new pair; the old refresh token stops working."""
    backends = context.backends
    pair = await backends.call(
        services.refresh_session,
        body.refresh_token,
        repo=backends.user_repo,
        sessions=backends.session_repo,
        tokens=context.tokens,
    )
    return _token_out(pair)


@account_router.post("/logout", status_code=NO_CONTENT, response_class=Response)
async def logout(request: Request) -> None:
    """Revoke this session: its access and refresh tokens stop working at once."""
    caller = Caller.of(request)
    backends = caller.backends
    await backends.call(backends.session_repo.revoke_session, caller.session.id)


@account_router.post("/logout-all", status_code=NO_CONTENT, response_class=Response)
async def logout_all(request: Request) -> None:
    """Revoke every session of the caller, on every device."""
    caller = Caller.of(request)
    backends = caller.backends
    await backends.call(backends.session_repo.revoke_user_sessions, caller.user.id)


@account_router.get("/me", response_model=UserOut)
async def me(request: Request) -> User:
    """The account the bearer token belongs to."""
    return Caller.of(request).user


@account_router.patch("/me", response_model=UserOut)
async def update_me(body: UserUpdate, request: Request) -> User:
    """Change the caller's profile."""
    caller = Caller.of(request)
    backends = caller.backends
    return await backends.call(services.update_me, caller.user, body, repo=backends.user_repo)


@account_router.post(
    "/me/password",
    status_code=NO_CONTENT,
    response_class=Response,
    responses=responses(_403="Current password is wrong"),
)
async def change_password(body: PasswordChange, request: Request) -> None:
    """Set a new password; every other session is signed out."""
    caller = Caller.of(request)
    backends = caller.backends
    await run_in_threadpool(
        services.change_password,
        caller.user,
        body.current_password,
        body.new_password,
        session_id=caller.session.id,
        repo=backends.user_repo,
        sessions=backends.session_repo,
        hasher=caller.context.hasher,
    )


@account_router.delete(
    "/me",
    status_code=NO_CONTENT,
    response_class=Response,
    responses=responses(_403="Password is wrong"),
)
async def delete_me(body: PasswordConfirmation, request: Request) -> None:
    """Delete the account with all its projects, files and sessions."""
    caller = Caller.of(request)
    backends = caller.backends
    await run_in_threadpool(
        services.delete_account,
        caller.user,
        body.password,
        repo=backends.user_repo,
        sessions=backends.session_repo,
        project_repo=backends.project_repo,
        file_repo=backends.file_repo,
        storage=backends.file_storage,
        hasher=caller.context.hasher,
    )
