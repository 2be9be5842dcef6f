"""Request and response shapes every domain router shares: plain pydantic, no HTTP."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Schema(BaseModel):
    """Responses are read from domain models; requests refuse fields they do not define, so a
    client cannot set `id`, `owner_id` or anything else by adding it to the body."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class PageQuery(BaseModel):
    """`?limit=&cursor=` of a list route (`Annotated[PageQuery, Query()]`)."""

    model_config = ConfigDict(frozen=True)

    limit: int = Field(20, ge=1, le=100, description="Page size.")
    cursor: str | None = Field(
        None, max_length=512, description="`next_cursor` of the previous page."
    )
