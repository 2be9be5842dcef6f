"""Request and response bodies of the direct upload routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.routers.schemas import Schema


class UploadCreate(Schema):
    filename: str = Field(min_length=1, max_length=1024)
    content_type: str | None = Field(None, max_length=255)
    size: int = Field(ge=0, description="The file's exact size in bytes.")
    sha256: str | None = Field(
        None, pattern=r"^[0-9a-f]{64}$", description="Checked on completion when given."
    )


class PartOut(BaseModel):
    part_number: int
    size: int = Field(description="Send exactly this many bytes to this URL.")
    url: str
    method: Literal["PUT"] = "PUT"


class UploadOut(BaseModel):
    upload_id: str = Field(description="Signed; complete or abort the upload with it.")
    expires_at: datetime
    parts: list[PartOut] = Field(description="Each may be sent again, and in parallel.")
