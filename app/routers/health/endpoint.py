"""Liveness that means something: both stores are really touched, within a deadline."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.dependencies import Context

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)

PINGS = anyio.CapacityLimiter(4)
"""Threads the pings may hold. A ping past its deadline is abandoned, not stopped: its thread
runs on until the backend's own timeouts end it, so pings of an endpoint that hangs never take
the threads requests need."""


class HealthOut(BaseModel):
    status: str
    database: str
    storage: str


async def _state(name: str, ping: Callable[[], None], seconds: float) -> str:
    """`ok`, or `unavailable` when the ping fails or has not answered within `seconds`."""
    try:
        with anyio.fail_after(seconds):
            await anyio.to_thread.run_sync(ping, abandon_on_cancel=True, limiter=PINGS)
    except TimeoutError:
        logger.error("health check: %s did not answer within %g s", name, seconds)
        return "unavailable"
    except Exception:
        logger.exception("health check failed for %s", name)
        return "unavailable"
    return "ok"


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
async def health(context: Context) -> JSONResponse:
    """200 when the database and storage both answer, 503 naming the part that does not; both
    are asked at once, so the answer comes within HEALTH_TIMEOUT_SECONDS."""
    backends = context.backends
    seconds = context.settings.HEALTH_TIMEOUT_SECONDS
    parts = {"database": backends.user_repo.ping, "storage": backends.file_storage.ping}
    answers = await asyncio.gather(*(_state(name, ping, seconds) for name, ping in parts.items()))
    states = dict(zip(parts, answers, strict=True))
    healthy = all(state == "ok" for state in states.values())
    body = HealthOut(status="ok" if healthy else "unavailable", **states)
    return JSONResponse(body.model_dump(), status_code=200 if healthy else 503)
