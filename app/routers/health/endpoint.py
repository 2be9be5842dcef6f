"""Liveness that means something: both stores are really touched."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.dependencies import Context

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)


class HealthOut(BaseModel):
    status: str
    database: str
    storage: str


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def health(context: Context) -> JSONResponse:
    """200 when the database and storage both answer, 503 naming the part that does not."""
    backends = context.backends
    parts = {"database": backends.user_repo.ping, "storage": backends.file_storage.ping}
    states: dict[str, str] = {}
    for name, ping in parts.items():
        try:
            await backends.call(ping)
            states[name] = "ok"
        except Exception:
            logger.exception("health check failed for %s", name)
            states[name] = "unavailable"
    healthy = all(state == "ok" for state in states.values())
    body = HealthOut(status="ok" if healthy else "unavailable", **states)
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)
