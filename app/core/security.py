"""Password hashing (argon2id through pwdlib) and access tokens (HS256 JWT through PyJWT)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

from app.errors import InvalidToken

JWT_ALGORITHM = "HS256"


class PasswordHasher:
    """argon2id with explicit parameters, OWASP's minimum (m=19 MiB, t=2, p=1) by default:
    each login costs one hash, so heavier parameters buy little and cost latency."""

    def __init__(self, memory_kib: int = 19_456, time_cost: int = 2, parallelism: int = 1) -> None:
        self._hash = PasswordHash(
            (Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism),)
        )
        self._dummy_hash = self._hash.hash("dummy password for unknown accounts")

    def hash(self, password: str) -> str:
        return self._hash.hash(password)

    def verify_and_update(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        """Check a password; a new hash comes back when the parameters have changed. A corrupt
        stored hash counts as a mismatch, never as an error."""
        try:
            return self._hash.verify_and_update(password, password_hash)
        except UnknownHashError:
            return False, None

    def verify_dummy(self, password: str) -> None:
        """Spend the time of one verification, so an unknown email answers as slowly as a
        wrong password."""
        self._hash.verify(password, self._dummy_hash)


@dataclass(frozen=True)
class AccessToken:
    access_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105


class AccessTokens:
    """Issues and checks HS256 JWTs; the algorithm is pinned and `exp`/`sub` are required."""

    def __init__(self, secret: str, lifetime_seconds: int) -> None:
        self._secret = secret
        self._lifetime = lifetime_seconds

    def issue(self, subject: str) -> AccessToken:
        now = datetime.now(UTC)
        claims = {"sub": subject, "iat": now, "exp": now + timedelta(seconds=self._lifetime)}
        token = jwt.encode(claims, self._secret, algorithm=JWT_ALGORITHM)
        return AccessToken(access_token=token, expires_in=self._lifetime)

    def subject(self, token: str) -> str:
        """The user id a valid token speaks for; InvalidToken for anything else."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                options={"require": ["exp", "sub"]},
            )
        except jwt.PyJWTError:
            raise InvalidToken() from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise InvalidToken()
        return subject


@lru_cache
def default_hasher() -> PasswordHasher:
    """The hasher with default parameters, for notebooks and scripts that build no settings."""
    return PasswordHasher()
