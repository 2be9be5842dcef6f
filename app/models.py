"""Domain models that repositories take and return; no backend's rows leak past its module."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Annotated, Generic, Literal, NamedTuple, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict


def utc_now() -> datetime:
    """Microsecond UTC timestamps: every backend stores and sorts them the same way."""
    return datetime.now(UTC)


Instant = Annotated[AwareDatetime, AfterValidator(lambda moment: moment.astimezone(UTC))]
"""A moment as every backend hands it out: in `datetime.UTC` itself, not in an equal offset
object of the engine's parser, so equal moments from any backend compare and hash in C (a
pydantic-parsed one calls back into its tzinfo on every comparison)."""


def new_id() -> str:
    """128 random bits as 32 hex digits, the shape of a uuid4's hex. Every request takes one
    for its request id: `secrets.token_hex` reads the same `os.urandom` through two more
    Python calls."""
    return os.urandom(16).hex()


class _Domain(BaseModel):
    model_config = ConfigDict(frozen=True)


class User(_Domain):
    id: str
    email: str
    password_hash: str
    full_name: str | None = None
    is_active: bool = True
    created_at: Instant
    is_verified: bool = True
    """Whether the owner proved the address by a mailed link. A user stored before addresses
    were verified reads as verified (they could already log in); registrations start
    unverified (`UserRepository.create_user`)."""
    is_superuser: bool = False
    """An administrator: may list, deactivate and delete other users."""


FIRST_VERSION = 1
"""A new project's version; a project stored before versions existed reads as this one."""


class Project(_Domain):
    id: str
    owner_id: str
    name: str
    description: str | None = None
    created_at: Instant
    updated_at: Instant
    version: int = FIRST_VERSION
    """One more on every update, so a client can make its change conditional on what it read."""


class FileRecord(_Domain):
    """Metadata of one stored file; `storage_key` is server-generated and never shown to clients."""

    id: str
    project_id: str
    owner_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    storage_key: str
    created_at: Instant


class PageKey(NamedTuple):
    """Where a page ends: lists are ordered newest first by (created_at, id)."""

    created_at: datetime
    id: str


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_key: PageKey | None = None


class Session(_Domain):
    """One login and the refresh tokens that descend from it (a token family)."""

    id: str
    user_id: str
    created_at: Instant
    expires_at: Instant
    revoked: bool = False


class RefreshToken(_Domain):
    """A refresh token, known only by its hash; `used` once it has been rotated."""

    token_hash: str
    session_id: str
    user_id: str
    expires_at: Instant
    used: bool = False


class AttemptWindow(_Domain):
    """Failed logins counted under one key (an account or an address) since `started_at`."""

    key: str
    started_at: Instant
    failures: int


TokenPurpose = Literal["verify_email", "reset_password"]


class ActionToken(_Domain):
    """A one-time token mailed to a user (to verify the address, to reset the password), known
    only by its hash; consuming it removes it."""

    token_hash: str
    purpose: TokenPurpose
    user_id: str
    expires_at: Instant
    fingerprint: str = ""
    """A digest of the state the token is bound to (a reset token: the password hash it was
    made under, so it dies when the password changes); empty when bound to none."""
