"""Response bodies of the file routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from app.routers.schemas import Schema


class FileOut(Schema):
    id: str
    project_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime


class PresignedUrlOut(BaseModel):
    url: str
    expires_at: datetime
