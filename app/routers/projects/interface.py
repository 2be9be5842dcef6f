"""Request and response bodies of the project routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from app.routers.schemas import Schema

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, Field(max_length=5000)]


class ProjectCreate(Schema):
    name: Name
    description: Description | None = None


class ProjectUpdate(Schema):
    """Only the fields sent are changed; `name` cannot be cleared."""

    name: Name | None = None
    description: Description | None = None

    @model_validator(mode="after")
    def _name_not_null(self) -> ProjectUpdate:
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null")
        return self


class ProjectOut(Schema):
    id: str
    name: str
    description: str | None
    owner_id: str
    created_at: datetime
    updated_at: datetime
    version: int
    """Its ETag, unquoted: one more on every update."""
