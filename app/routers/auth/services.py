"""Registration and login, as plain functions a notebook or a test calls directly."""

from __future__ import annotations

from app.core.security import AccessToken, AccessTokens, PasswordHasher, default_hasher
from app.errors import InvalidCredentials
from app.models import User
from app.repositories.base import UserRepository
from app.routers.auth.interface import UserRegister, normalise_email


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
        user = repo.update_user(user.model_copy(update={"password_hash": new_hash}))
    return user


def login(
    email: str,
    password: str,
    *,
    repo: UserRepository,
    hasher: PasswordHasher,
    tokens: AccessTokens,
) -> AccessToken:
    """Exchange credentials for an access token."""
    user = authenticate(email, password, repo=repo, hasher=hasher)
    return tokens.issue(user.id)
