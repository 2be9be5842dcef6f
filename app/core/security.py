"""Password hashing (argon2id through pwdlib) and access tokens (HS256 JWT through PyJWT)."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache

import jwt
from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher

from app.errors import InvalidToken

JWT_ALGORITHM = "HS256"
TOKEN_CACHE_SIZE = 4096


class PasswordHasher:
    """argon2id with explicit parameters, OWASP's minimum (m=19 MiB, t=2, p=1) by default:
    each login costs one hash, so heavier parameters buy little and cost latency."""

    def __init__(self, memory_kib: int = 19_456, time_cost: int = 2, parallelism: int = 1) -> None:
        self._hash = PasswordHash(
            (Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism),)
        )

    @cached_property
    def _dummy_hash(self) -> str:
        """Made by the first login of an unknown account rather than at start-up, where it
        would delay the first answer of every process; only that one login is the slower."""
        return self._hash.hash("dummy password for unknown accounts")

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


@dataclass(frozen=True)
class AccessClaims:
    """Who a valid access token speaks for, and from which session."""

    user_id: str
    session_id: str


class AccessTokens:
    """Issues and checks HS256 JWTs; the algorithm is pinned and `exp`, `sub` and `sid` (the
    session, checked on every request so revocation is immediate) are required."""

    def __init__(
        self, secret: str, lifetime_seconds: int, refresh_lifetime_seconds: int = 30 * 86400
    ) -> None:
        self._secret = secret
        self.lifetime = lifetime_seconds
        self.refresh_lifetime = refresh_lifetime_seconds
        self._verified = lru_cache(maxsize=TOKEN_CACHE_SIZE)(self._decode)

    def issue(self, subject: str, session_id: str) -> AccessToken:
        now = datetime.now(UTC)
        claims = {
            "sub": subject,
            "sid": session_id,
            "iat": now,
            "exp": now + timedelta(seconds=self.lifetime),
        }
        token = jwt.encode(claims, self._secret, algorithm=JWT_ALGORITHM)
        return AccessToken(access_token=token, expires_in=self.lifetime)

    def claims(self, token: str) -> AccessClaims:
        """The claims of a valid token; InvalidToken for anything else. A token seen before
        is not parsed again (clients send the same one on every request): the cache holds only
        tokens that verified, and their expiry is checked on every use."""
        claims, expires_at = self._verified(token)
        if expires_at <= time.time():
            raise InvalidToken()
        return claims

    def _decode(self, token: str) -> tuple[AccessClaims, float]:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                options={"require": ["exp", "sub", "sid"]},
            )
        except jwt.PyJWTError:
            raise InvalidToken() from None
        subject, session = claims["sub"], claims["sid"]
        if not (isinstance(subject, str) and subject and isinstance(session, str) and session):
            raise InvalidToken()
        return AccessClaims(user_id=subject, session_id=session), float(claims["exp"])


def new_refresh_token() -> tuple[str, str]:
    """A random opaque refresh token and the hash under which it is stored."""
    raw = secrets.token_urlsafe(32)
    return raw, hash_refresh_token(raw)


def hash_refresh_token(raw: str) -> str:
    """SHA-256 suffices: the token has 256 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(raw.encode()).hexdigest()


@lru_cache
def default_hasher() -> PasswordHasher:
    """The hasher with default parameters, for notebooks and scripts that build no settings."""
    return PasswordHasher()
