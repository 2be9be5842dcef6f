"""Request and response bodies of the auth routes."""

from __future__ import annotations

import contextlib
import unicodedata
from datetime import datetime
from typing import Annotated, Any

from email_validator import EmailNotValidError, validate_email
from pydantic import BeforeValidator, EmailStr, Field

from app.routers.schemas import Schema


def normalise_email(value: Any) -> Any:
    """One account per address, however it is typed: the one spelling registration stores and
    login, authentication and migration look up. That is email-validator's normal form (the
    local part NFC-normalised; the domain in Unicode after IDNA mapping, so `xn--bcher-kva` and
    `BÜCHER` become `bücher`, full-width letters plain ones), lower-cased whole as Hangar
    always has; addresses registered before have it already (EmailStr is email-validator).
    Text that is no address is only trimmed and lower-cased: registration then refuses it, and
    a login with it fails like any unknown one."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    with contextlib.suppress(EmailNotValidError):
        text = validate_email(text, check_deliverability=False).normalized
    return unicodedata.normalize("NFC", text.lower())


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
    is_verified: bool = Field(description="Whether the address was proved by a mailed link.")
    is_superuser: bool = Field(description="Whether the user may use the admin routes.")
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


MailedToken = Annotated[str, Field(min_length=1, max_length=512)]


class VerificationConfirm(Schema):
    token: MailedToken


class PasswordResetRequest(Schema):
    email: Email


class PasswordResetConfirm(Schema):
    token: MailedToken
    new_password: Password


class AcceptedOut(Schema):
    detail: str
