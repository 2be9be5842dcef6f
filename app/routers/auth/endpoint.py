"""Auth routes: translate HTTP to the auth services and back."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordRequestForm
from starlette.concurrency import run_in_threadpool

from app.context import AppContext
from app.dependencies import (
    Authenticated,
    Context,
    CurrentUser,
    FileRepo,
    Mailer,
    ProjectRepo,
    SessionRepo,
    Storage,
    TokenRepo,
    UserRepo,
    call,
)
from app.errors import EmailNotVerified
from app.mail.base import Mailer as MailBackend
from app.mail.base import MailMessage
from app.models import User
from app.repositories.base import ActionTokenRepository, UserRepository
from app.routers.auth import services
from app.routers.auth.interface import (
    AcceptedOut,
    PasswordChange,
    PasswordConfirmation,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshRequest,
    TokenOut,
    UserOut,
    UserRegister,
    UserUpdate,
    VerificationConfirm,
)
from app.routers.auth.mails import MailLinks
from app.routers.common import UNAUTHORIZED, responses

router = APIRouter(prefix="/auth", tags=["auth"])
# The caller's own session and account: the same prefix, every route authenticated.
account_router = APIRouter(prefix="/auth", tags=["auth"], responses=UNAUTHORIZED)
NO_CONTENT = status.HTTP_204_NO_CONTENT
ACCEPTED = status.HTTP_202_ACCEPTED
RESET_REQUESTED = AcceptedOut(
    detail="If an account has this address, a link to reset its password is on its way"
)
VERIFICATION_SENT = AcceptedOut(detail="A new verification link is on its way")
BAD_TOKEN = responses(_400="Unknown, used, expired or altered link")
logger = logging.getLogger("app.mail")


def _links(context: AppContext) -> MailLinks:
    settings = context.settings
    return MailLinks(settings.FRONTEND_URL or settings.PUBLIC_BASE_URL)


async def _compose_and_send(
    mailer: MailBackend, compose: Callable[..., MailMessage | None], arguments: dict[str, Any]
) -> None:
    """A background task, run once the response is out: compose the mail (which stores its
    token), then send it. A failure is logged, with the request's id (the task runs in the
    request's context), and never reaches the client, who has its answer already; neither
    the log nor the error holds the token."""
    try:
        message = await call(compose, **arguments)
        if message is not None:
            await call(mailer.send, message)
    except Exception:
        logger.exception("%s: the mail could not be composed or sent", compose.__name__)


def _mail_verification(
    background: BackgroundTasks,
    mailer: MailBackend,
    user_id: str,
    *,
    users: UserRepository,
    tokens: ActionTokenRepository,
    context: AppContext,
    throttled: bool = False,
) -> None:
    """Mail the user a new verification link after the response; `throttled`, only within
    the mail throttle's limits (a refused login asks for no link, so it counts there)."""
    arguments = {
        "user_id": user_id,
        "repo": users,
        "tokens": tokens,
        "links": _links(context),
        "lifetime": timedelta(hours=context.settings.VERIFY_TOKEN_EXPIRE_HOURS),
        "throttle": context.mail_throttle if throttled else None,
    }
    background.add_task(_compose_and_send, mailer, services.verification_mail, arguments)


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
async def register(
    body: UserRegister,
    users: UserRepo,
    tokens: TokenRepo,
    mailer: Mailer,
    context: Context,
    background: BackgroundTasks,
) -> User:
    """Create an account and mail it a verification link. Hashing takes tens of
    milliseconds, so it runs in the threadpool."""
    user = await run_in_threadpool(services.register_user, body, users, context.hasher)
    _mail_verification(background, mailer, user.id, users=users, tokens=tokens, context=context)
    return user


@router.post(
    "/login",
    response_model=TokenOut,
    responses=responses(
        _401="Bad credentials",
        _403="Email not verified (REQUIRE_VERIFIED_LOGIN); a new link is mailed",
        _429="Too many failed logins",
    ),
)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    request: Request,
    users: UserRepo,
    sessions: SessionRepo,
    context: Context,
    background: BackgroundTasks,
) -> TokenOut | JSONResponse:
    """OAuth2 password flow (`username` is the email): an access and a refresh token."""
    try:
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
            require_verified=context.settings.REQUIRE_VERIFIED_LOGIN,
        )
    except EmailNotVerified as refused:
        # An error response would drop the background tasks: this one carries them.
        backends = context.backends
        _mail_verification(
            background,
            backends.mailer,
            refused.user_id,
            users=users,
            tokens=backends.token_repo,
            context=context,
            throttled=True,
        )
        return JSONResponse({"detail": refused.detail}, refused.status_code, background=background)
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


@router.post("/verify", response_model=UserOut, responses=BAD_TOKEN)
async def verify_email(body: VerificationConfirm, users: UserRepo, tokens: TokenRepo) -> User:
    """Mark the address verified, with the token of a mailed verification link (once)."""
    return await call(services.verify_email, body.token, repo=users, tokens=tokens)


@account_router.post(
    "/verify/resend",
    status_code=ACCEPTED,
    response_model=AcceptedOut,
    responses=responses(_409="Already verified", _429="Too many requests for a link"),
)
async def resend_verification(
    user: CurrentUser,
    users: UserRepo,
    tokens: TokenRepo,
    mailer: Mailer,
    context: Context,
    background: BackgroundTasks,
) -> AcceptedOut:
    """Mail the caller a new verification link; the ones sent before keep working."""
    await call(services.count_verification_request, user, throttle=context.mail_throttle)
    _mail_verification(background, mailer, user.id, users=users, tokens=tokens, context=context)
    return VERIFICATION_SENT


@router.post(
    "/password-reset",
    status_code=ACCEPTED,
    response_model=AcceptedOut,
    responses=responses(_429="Too many reset requests"),
)
async def request_password_reset(
    body: PasswordResetRequest,
    request: Request,
    users: UserRepo,
    tokens: TokenRepo,
    mailer: Mailer,
    context: Context,
    background: BackgroundTasks,
) -> AcceptedOut:
    """Mail a single-use password reset link to the account with this address, if there is
    one. The answer is the same either way, and so is its timing: the request only counts
    against the throttle; looking the account up and mailing it happen after the response."""
    email = await call(
        services.count_password_reset_request,
        body.email,
        client_address=request.client.host if request.client else None,
        throttle=context.mail_throttle,
    )
    arguments = {
        "email": email,
        "repo": users,
        "tokens": tokens,
        "links": _links(context),
        "lifetime": timedelta(minutes=context.settings.RESET_TOKEN_EXPIRE_MINUTES),
    }
    background.add_task(_compose_and_send, mailer, services.password_reset_mail, arguments)
    return RESET_REQUESTED


@router.post(
    "/password-reset/confirm",
    status_code=NO_CONTENT,
    response_class=Response,
    responses=BAD_TOKEN,
)
async def confirm_password_reset(
    body: PasswordResetConfirm,
    users: UserRepo,
    tokens: TokenRepo,
    sessions: SessionRepo,
    context: Context,
) -> None:
    """Set a new password with the token of a mailed reset link (once); every session of the
    account is signed out. Hashing takes tens of milliseconds, so it runs in the threadpool."""
    await run_in_threadpool(
        services.reset_password,
        body.token,
        body.new_password,
        repo=users,
        tokens=tokens,
        sessions=sessions,
        hasher=context.hasher,
    )
