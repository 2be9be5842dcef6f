"""Accounts, logins and sessions, as plain functions a notebook or a test calls directly."""

from __future__ import annotations

import hashlib
import hmac
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
from app.errors import (
    AlreadyVerified,
    EmailNotVerified,
    InvalidActionToken,
    InvalidCredentials,
    InvalidToken,
    NotFound,
    PasswordMismatch,
    TooManyAttempts,
)
from app.mail.base import MailMessage
from app.models import ActionToken, RefreshToken, Session, TokenPurpose, User, new_id, utc_now
from app.repositories.base import (
    ActionTokenRepository,
    FileRepository,
    ProjectRepository,
    SessionRepository,
    UserRepository,
)
from app.routers.auth import mails
from app.routers.auth.interface import UserRegister, UserUpdate, normalise_email
from app.routers.auth.mails import MailLinks
from app.routers.auth.throttle import LoginThrottle, MailThrottle, guarded
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
    require_verified: bool = False,
) -> TokenPair:
    """Exchange credentials for an access and a refresh token, within the throttle's limits
    (TooManyAttempts before the password is checked). With `require_verified`, a user who has
    not verified their address gets EmailNotVerified instead, once the password is right."""
    account = normalise_email(email)
    with guarded(throttle, account, client_address):
        user = authenticate(account, password, repo=repo, hasher=hasher)
    if require_verified and not user.is_verified:
        raise EmailNotVerified(user.id)
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
    remove_account(
        user,
        repo=repo,
        sessions=sessions,
        project_repo=project_repo,
        file_repo=file_repo,
        storage=storage,
    )


def remove_account(
    user: User,
    *,
    repo: UserRepository,
    sessions: SessionRepository,
    project_repo: ProjectRepository,
    file_repo: FileRepository,
    storage: FileStorage,
) -> None:
    """`delete_account` once the deletion is authorised (by the password, or by an
    administrator), in the order it describes."""
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


def _fingerprint(password_hash: str) -> str:
    """What a reset token is bound to: a digest of the password hash it was made under."""
    return hashlib.sha256(password_hash.encode()).hexdigest()


def _issue(
    purpose: TokenPurpose,
    user: User,
    lifetime: timedelta,
    *,
    tokens: ActionTokenRepository,
    fingerprint: str = "",
) -> str:
    """Store a new one-time token for `user` and return it raw, for the mail alone: the
    database keeps only its hash, like a refresh token's (256 random bits)."""
    raw, token_hash = new_refresh_token()
    tokens.add_token(
        ActionToken(
            token_hash=token_hash,
            purpose=purpose,
            user_id=user.id,
            expires_at=utc_now() + lifetime,
            fingerprint=fingerprint,
        )
    )
    return raw


def _consume(token: str, purpose: TokenPurpose, *, tokens: ActionTokenRepository) -> ActionToken:
    """The live token `token` names, removed so that it works once; InvalidActionToken for
    one unknown, used, altered or expired."""
    found = tokens.consume_token(hash_refresh_token(token), purpose)
    if found is None or found.expires_at <= utc_now():
        raise InvalidActionToken()
    return found


def verification_mail(
    user_id: str,
    *,
    repo: UserRepository,
    tokens: ActionTokenRepository,
    links: MailLinks,
    lifetime: timedelta,
    throttle: MailThrottle | None = None,
) -> MailMessage | None:
    """A new verification token for the user and the mail that carries it; None (nothing
    stored) when the user is gone or verified already, or `throttle` refuses another mail."""
    user = repo.get_user(user_id)
    if user is None or user.is_verified:
        return None
    if throttle is not None:
        try:
            throttle.count("verification", user.email)
        except TooManyAttempts:
            return None
    raw = _issue("verify_email", user, lifetime, tokens=tokens)
    return mails.verification(user.email, links.verify(raw), lifetime)


def count_verification_request(user: User, *, throttle: MailThrottle) -> None:
    """AlreadyVerified for a verified user; else count a request for a new link, refused past
    the throttle's limit (TooManyAttempts)."""
    if user.is_verified:
        raise AlreadyVerified()
    throttle.count("verification", user.email)


def verify_email(token: str, *, repo: UserRepository, tokens: ActionTokenRepository) -> User:
    """Mark the user a verification token was mailed to as verified (once per token)."""
    found = _consume(token, "verify_email", tokens=tokens)
    try:
        return repo.update_user_fields(found.user_id, {"is_verified": True})
    except NotFound:
        raise InvalidActionToken() from None


def count_password_reset_request(
    email: str, *, client_address: str | None, throttle: MailThrottle
) -> str:
    """Count a reset request for `email` from `client_address`, account or not (so neither
    the answer nor its timing tells whether one exists; TooManyAttempts past the limits), and
    return the normalised address for `password_reset_mail`."""
    account: str = normalise_email(email)
    throttle.count("password-reset", account, client_address)
    return account


def password_reset_mail(
    email: str,
    *,
    repo: UserRepository,
    tokens: ActionTokenRepository,
    links: MailLinks,
    lifetime: timedelta,
) -> MailMessage | None:
    """A reset token for the active account of `email`, bound to its current password, and
    the mail that carries it; None (nothing stored) when there is no such account."""
    user = repo.get_user_by_email(email)
    if user is None or not user.is_active:
        return None
    raw = _issue(
        "reset_password",
        user,
        lifetime,
        tokens=tokens,
        fingerprint=_fingerprint(user.password_hash),
    )
    return mails.password_reset(user.email, links.reset(raw), lifetime)


def reset_password(
    token: str,
    new_password: str,
    *,
    repo: UserRepository,
    tokens: ActionTokenRepository,
    sessions: SessionRepository,
    hasher: PasswordHasher,
) -> None:
    """Set the password a reset token was mailed for and revoke every session of the user.
    The token works once (of concurrent confirms, one), and not after the password changed
    since it was sent: InvalidActionToken. Opening the mail proves the address too. A password
    changed between this check and the write loses to this one: both callers proved control."""
    found = _consume(token, "reset_password", tokens=tokens)
    user = repo.get_user(found.user_id)
    if (
        user is None
        or not user.is_active
        or not hmac.compare_digest(found.fingerprint, _fingerprint(user.password_hash))
    ):
        raise InvalidActionToken()
    changes = {"password_hash": hasher.hash(new_password), "is_verified": True}
    repo.update_user_fields(user.id, changes)
    sessions.revoke_user_sessions(user.id)


def purge_expired_tokens(*, tokens: ActionTokenRepository, now: datetime | None = None) -> int:
    """Forget one-time tokens past their expiry (the periodic purge, beside `purge_expired`)."""
    return tokens.purge_expired_tokens(now or utc_now())
