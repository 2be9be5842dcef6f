"""Auth routes: translate HTTP to the auth services and back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from app.dependencies import Context, CurrentUser
from app.models import User
from app.routers.auth import services
from app.routers.auth.interface import TokenOut, UserOut, UserRegister
from app.routers.common import responses

router = APIRouter(prefix="/auth", tags=["auth"])


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


@router.post("/login", response_model=TokenOut, responses=responses(_401="Bad credentials"))
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], context: Context
) -> TokenOut:
    """OAuth2 password flow: `username` is the email."""
    token = await run_in_threadpool(
        services.login,
        form.username,
        form.password,
        repo=context.backends.user_repo,
        hasher=context.hasher,
        tokens=context.tokens,
    )
    return TokenOut(access_token=token.access_token, expires_in=token.expires_in)


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser) -> User:
    """The account the bearer token belongs to."""
    return user
