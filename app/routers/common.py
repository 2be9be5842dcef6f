"""HTTP shapes shared by every domain router."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=100, description="Page size.")]
Cursor = Annotated[
    str | None, Query(max_length=512, description="`next_cursor` of the previous page.")
]


class Schema(BaseModel):
    """Responses are read from domain models; requests refuse fields they do not define, so a
    client cannot set `id`, `owner_id` or anything else by adding it to the body."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def responses(**codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI descriptions of error statuses: `responses(_404="No such project")`."""
    return {int(code.lstrip("_")): {"description": text} for code, text in codes.items()}


NOT_AUTHENTICATED = "Missing, invalid, expired or revoked access token"
UNAUTHORIZED = responses(_401=NOT_AUTHENTICATED)
