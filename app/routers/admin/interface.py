"""Request and response bodies of the admin routes (users are shown as `UserOut`)."""

from __future__ import annotations

from pydantic import Field, model_validator

from app.routers.schemas import PageQuery, Schema


class UserPageQuery(PageQuery):
    """`?limit=&cursor=&email_prefix=` of the admin's user list."""

    email_prefix: str | None = Field(
        None,
        min_length=1,
        max_length=320,
        description="Only users whose email starts with this (compared lower-cased).",
    )


class AdminUserUpdate(Schema):
    """Only the fields sent are changed; none can be null."""

    is_active: bool | None = Field(
        None, description="False deactivates: the user's sessions stop working at once."
    )
    is_superuser: bool | None = None
    is_verified: bool | None = None

    @model_validator(mode="after")
    def _something_not_null(self) -> AdminUserUpdate:
        sent = self.model_dump(exclude_unset=True)
        if not sent:
            raise ValueError("send at least one of is_active, is_superuser, is_verified")
        if None in sent.values():
            raise ValueError("a field cannot be null")
        return self
