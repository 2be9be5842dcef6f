"""Request and response bodies of the auth routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, EmailStr, Field

from app.routers.common import Schema


def normalise_email(value: Any) -> Any:
    """One account per address, however it is typed: trimmed and lower-cased."""
    return value.strip().lower() if isinstance(value, str) else value


Email = Annotated[EmailStr, BeforeValidator(normalise_email)]
Password = Annotated[str, Field(min_length=8, max_length=1024)]


class UserRegister(Schema):
    email: Email
    password: Password
    full_name: str | None = Field(None, max_length=200)


class UserOut(Schema):
    id: str
    email: str
    full_name: str | None
    is_active: bool
    created_at: datetime


class UserUpdate(Schema):
    full_name: str | None = Field(None, max_length=200)


class PasswordChange(Schema):
    current_password: str = Field(max_length=1024)
    new_password: Password


class PasswordConfirmation(Schema):
    password: str = Field(max_length=1024)


class RefreshRequest(Schema):
    refresh_token: str = Field(min_length=1, max_length=512)


class TokenOut(Schema):
    access_token: str
    token_type: str = "bearer"  # noqa: S105
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str
    refresh_expires_in: int = Field(description="Seconds until the refresh token expires.")
