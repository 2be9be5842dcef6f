"""Accounts, logins and sessions, as plain functions a notebook or a test calls directly."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.core.security import (
    AccessTokens,
    PasswordHasher,
    default_hasher,
    hash_refresh_token,
    new_refresh_token,
)
from app.errors import InvalidCredentials, InvalidToken, NotFound, PasswordMismatch
from app.models import RefreshToken, Session, User, new_id, utc_now
from app.repositories.base import (
    FileRepository,
    ProjectRepository,
    SessionRepository,
    UserRepository,
)
from app.routers.auth.interface import UserRegister, UserUpdate, normalise_email
from app.routers.auth.throttle import LoginThrottle, guarded
from app.routers.projects.services import delete_project
from app.storage.base import FileStorage


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


def register_user(
    user_data: UserRegister, repo: UserRepository, hasher: PasswordHasher | None = None
) -> User:
    """Create an account; EmailAlreadyRegistered if the address is taken."""
    password_hash = (hasher or default_hasher()).hash(user_data.password)
    return repo.create_user(user_data.email, password_hash, user_data.full_name)


def authenticate(
    email: str, password: str, *, repo: UserRepository, hasher: PasswordHasher
) -> User:
    """The user these credentials belong to. Unknown email and wrong password fail alike, in
    body and in time; a hash made with older parameters is upgraded on success."""
    user = repo.get_user_by_email(normalise_email(email))
    if user is None:
        hasher.verify_dummy(password)
        raise InvalidCredentials()
    valid, new_hash = hasher.verify_and_update(password, user.password_hash)
    if not valid or not user.is_active:
        raise InvalidCredentials()
    if new_hash is not None:
        user = repo.update_user_fields(user.id, {"password_hash": new_hash})
    return user


def _pair(user: User, session: Session, refresh: str, tokens: AccessTokens) -> TokenPair:
    access = tokens.issue(user.id, session.id)
    left = int((session.expires_at - utc_now()).total_seconds())
    return TokenPair(access.access_token, access.expires_in, refresh, max(left, 0))


def _refresh_token_for(session: Session) -> tuple[str, RefreshToken]:
    """A new refresh token of the session: the raw value for the client, the record to store."""
    raw, token_hash = new_refresh_token()
    record = RefreshToken(
        token_hash=token_hash,
        session_id=session.id,
        user_id=session.user_id,
        expires_at=session.expires_at,
    )
    return raw, record


def start_session(user: User, *, sessions: SessionRepository, tokens: AccessTokens) -> TokenPair:
    """A new session (token family) for a user who just proved who they are."""
    now = utc_now()
    session = Session(
        id=new_id(),
        user_id=user.id,
        created_at=now,
        expires_at=now + timedelta(seconds=tokens.refresh_lifetime),
    )
    raw, token = _refresh_token_for(session)
    sessions.add_session(session, token)
    return _pair(user, session, raw, tokens)


def login(
    email: str,
    password: str,
    *,
    client_address: str | None = None,
    repo: UserRepository,
    sessions: SessionRepository,
    hasher: PasswordHasher,
    tokens: AccessTokens,
    throttle: LoginThrottle | None = None,
) -> TokenPair:
    """Exchange credentials for an access and a refresh token, within the throttle's limits
    (TooManyAttempts before the password is checked)."""
    account = normalise_email(email)
    with guarded(throttle, account, client_address):
        user = authenticate(account, password, repo=repo, hasher=hasher)
    return start_session(user, sessions=sessions, tokens=tokens)


def refresh_session(
    refresh_token: str,
    *,
    repo: UserRepository,
    sessions: SessionRepository,
    tokens: AccessTokens,
) -> TokenPair:
    """Rotate a refresh token. Presenting one that was already rotated means it was copied:
    the whole session is revoked, so neither the thief nor the owner can use it further."""
    token, first_use = sessions.use_refresh_token(hash_refresh_token(refresh_token))
    if token is None:
        raise InvalidToken("Invalid refresh token")
    if not first_use:
        sessions.revoke_session(token.session_id)
        raise InvalidToken("Refresh token already used; the session has been revoked")
    session = sessions.get_session(token.session_id)
    now = utc_now()
    if session is None or session.revoked or min(session.expires_at, token.expires_at) <= now:
        raise InvalidToken("Session expired or revoked")
    user = repo.get_user(session.user_id)
    if user is None or not user.is_active:
        raise InvalidToken()
    raw, successor = _refresh_token_for(session)
    sessions.add_refresh_token(successor)
    return _pair(user, session, raw, tokens)


def authorize(
    access_token: str, *, sessions: SessionRepository, tokens: AccessTokens
) -> tuple[User, Session]:
    """The user and live session an access token speaks for: a revoked session's tokens stop
    working at once, not when they expire."""
    claims = tokens.claims(access_token)
    found = sessions.get_session_with_user(claims.session_id, claims.user_id)
    if found is None:
        raise InvalidToken()
    session, user = found
    if session.revoked or not user.is_active:
        raise InvalidToken()
    return user, session


def purge_expired(
    *, sessions: SessionRepository, throttle: LoginThrottle, now: datetime | None = None
) -> tuple[int, int]:
    """Forget expired sessions and refresh tokens and lapsed login-failure windows, so the
    store does not grow with every login; how many of each (sessions and tokens, windows)."""
    now = now or utc_now()
    window_start = now - timedelta(seconds=throttle.window_seconds)
    return sessions.purge_expired(now), throttle.attempts.purge_lapsed(window_start)


def update_me(user: User, data: UserUpdate, *, repo: UserRepository) -> User:
    """Change the profile fields that were sent, and only those: a password changed since
    `user` was read stays changed."""
    changes = data.model_dump(exclude_unset=True)
    return repo.update_user_fields(user.id, changes) if changes else user


def _confirm_password(
    user: User, password: str, hasher: PasswordHasher, *, throttle: LoginThrottle | None = None
) -> None:
    """PasswordMismatch unless `password` is the user's; a wrong one counts against the account
    like a failed login (a stolen token must not buy unlimited guesses)."""
    with guarded(throttle, user.email):
        valid, _ = hasher.verify_and_update(password, user.password_hash)
        if not valid:
            raise PasswordMismatch()


def change_password(
    user: User,
    current_password: str,
    new_password: str,
    *,
    session_id: str,
    repo: UserRepository,
    sessions: SessionRepository,
    hasher: PasswordHasher,
    throttle: LoginThrottle | None = None,
) -> None:
    """Set a new password and sign out every other session: whoever knew the old password
    loses access, the caller keeps theirs. Guesses of the current one are throttled."""
    _confirm_password(user, current_password, hasher, throttle=throttle)
    repo.update_user_fields(user.id, {"password_hash": hasher.hash(new_password)})
    sessions.revoke_user_sessions(user.id, keep=session_id)


def delete_account(
    user: User,
    password: str,
    *,
    repo: UserRepository,
    sessions: SessionRepository,
    project_repo: ProjectRepository,
    file_repo: FileRepository,
    storage: FileStorage,
    hasher: PasswordHasher,
    throttle: LoginThrottle | None = None,
) -> None:
    """Delete the user with everything they own: sessions are revoked first so nothing new
    happens meanwhile, the user record goes last so a failure can be retried by logging in.
    A request authenticated before the revocation may still create a project until the user
    is gone (after that, `add_project` refuses it), so the projects are swept once more after
    the user. Guesses of the password are throttled."""
    _confirm_password(user, password, hasher, throttle=throttle)
    sessions.revoke_user_sessions(user.id)
    _delete_projects(user, project_repo=project_repo, file_repo=file_repo, storage=storage)
    sessions.delete_user_sessions(user.id)
    repo.delete_user(user.id)
    _delete_projects(user, project_repo=project_repo, file_repo=file_repo, storage=storage)


def _delete_projects(
    user: User, *, project_repo: ProjectRepository, file_repo: FileRepository, storage: FileStorage
) -> None:
    """Delete the user's projects until none is left; one deleted meanwhile by another request
    (NotFound) is gone, as wanted."""
    while page := project_repo.get_projects_by_user(user.id, limit=100).items:
        for project in page:
            with suppress(NotFound):
                delete_project(
                    project.id, owner=user, repo=project_repo, file_repo=file_repo, storage=storage
                )
