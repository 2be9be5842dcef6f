"""Auth routes: translate HTTP to the auth services and back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from app.dependencies import (
    Authenticated,
    Context,
    CurrentUser,
    FileRepo,
    ProjectRepo,
    SessionRepo,
    Storage,
    UserRepo,
    call,
)
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
from app.routers.common import UNAUTHORIZED, responses

router = APIRouter(prefix="/auth", tags=["auth"])
# The caller's own session and account: the same prefix, every route authenticated.
account_router = APIRouter(prefix="/auth", tags=["auth"], responses=UNAUTHORIZED)
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
async def register(body: UserRegister, users: UserRepo, context: Context) -> User:
    """Create an account. Hashing takes tens of milliseconds, so it runs in the threadpool."""
    return await run_in_threadpool(services.register_user, body, users, context.hasher)


@router.post(
    "/login",
    response_model=TokenOut,
    responses=responses(_401="Bad credentials", _429="Too many failed logins"),
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    users: UserRepo,
    sessions: SessionRepo,
    context: Context,
) -> TokenOut:
    """OAuth2 password flow (`username` is the email): an access and a refresh token."""
    pair = await run_in_threadpool(
        services.login,
        form.username,
        form.password,
        client_address=request.client.host if request.client else None,
        repo=users,
        sessions=sessions,
        hasher=context.hasher,
        tokens=context.tokens,
        throttle=context.throttle,
    )
    return _token_out(pair)


@router.post("/refresh", response_model=TokenOut, responses=responses(_401="Invalid refresh token"))
async def refresh(
    body: RefreshRequest, users: UserRepo, sessions: SessionRepo, context: Context
) -> TokenOut:
    """Trade a refresh token for a new pair; the old refresh token stops working."""
    pair = await call(
        services.refresh_session,
        body.refresh_token,
        repo=users,
        sessions=sessions,
        tokens=context.tokens,
    )
    return _token_out(pair)


@account_router.post("/logout", status_code=NO_CONTENT, response_class=Response)
async def logout(caller: Authenticated, sessions: SessionRepo) -> None:
    """Revoke this session: its access and refresh tokens stop working at once."""
    await call(sessions.revoke_session, caller.session.id)


@account_router.post("/logout-all", status_code=NO_CONTENT, response_class=Response)
async def logout_all(user: CurrentUser, sessions: SessionRepo) -> None:
    """Revoke every session of the caller, on every device."""
    await call(sessions.revoke_user_sessions, user.id)


@account_router.get("/me", response_model=UserOut)
async def me(user: CurrentUser) -> User:
    """The account the bearer token belongs to."""
    return user


@account_router.patch("/me", response_model=UserOut)
async def update_me(body: UserUpdate, user: CurrentUser, users: UserRepo) -> User:
    """Change the caller's profile."""
    return await call(services.update_me, user, body, repo=users)


@account_router.post(
    "/me/password",
    status_code=NO_CONTENT,
    response_class=Response,
    responses=responses(_403="Current password is wrong", _429="Too many wrong passwords"),
)
async def change_password(
    body: PasswordChange,
    caller: Authenticated,
    users: UserRepo,
    sessions: SessionRepo,
    context: Context,
) -> None:
    """Set a new password; every other session is signed out."""
    await run_in_threadpool(
        services.change_password,
        caller.user,
        body.current_password,
        body.new_password,
        session_id=caller.session.id,
        repo=users,
        sessions=sessions,
        hasher=context.hasher,
        throttle=context.throttle,
    )


@account_router.delete(
    "/me",
    status_code=NO_CONTENT,
    response_class=Response,
    responses=responses(_403="Password is wrong", _429="Too many wrong passwords"),
)
async def delete_me(
    body: PasswordConfirmation,
    user: CurrentUser,
    users: UserRepo,
    sessions: SessionRepo,
    projects: ProjectRepo,
    files: FileRepo,
    storage: Storage,
    context: Context,
) -> None:
    """Delete the account with all its projects, files and sessions."""
    await run_in_threadpool(
        services.delete_account,
        user,
        body.password,
        repo=users,
        sessions=sessions,
        project_repo=projects,
        file_repo=files,
        storage=storage,
        hasher=context.hasher,
        throttle=context.throttle,
    )
