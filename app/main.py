"""The app factory: `create_app(settings)` for tests and notebooks, `app` for uvicorn."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from app.core.body_limit import BodySizeLimitMiddleware
from app.core.config import Settings, get_settings
from app.core.headers import SecurityHeadersMiddleware
from app.core.logging import RequestIdMiddleware
from app.dependencies import AppContext, Backends
from app.errors import HangarError
from app.routers.auth.endpoint import account_router
from app.routers.auth.endpoint import router as auth_router
from app.routers.files.endpoint import router as files_router
from app.routers.health.endpoint import router as health_router
from app.routers.projects.endpoint import router as projects_router
from app.routers.storage.endpoint import router as storage_router

API_PREFIX = "/api/v1"
# FastAPI tries routes in this order, so the busiest come first.
ROUTERS = (
    projects_router,
    files_router,
    auth_router,
    account_router,
    storage_router,
    health_router,
)
FORM_OVERHEAD_BYTES = 1024 * 1024
logger = logging.getLogger("app")


def _hangar_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HangarError)
    return JSONResponse(
        {"detail": error.detail}, status_code=error.status_code, headers=error.headers
    )


def create_app(settings: Settings | None = None, backends: Backends | None = None) -> FastAPI:
    """Build the API for these settings. Backends open at start-up and close at shutdown,
    unless `backends` are handed in (a notebook's own), which the caller keeps and closes."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = AppContext.from_settings(settings, backends)
        app.state.context = context
        storage = context.backends.file_storage
        removed = storage.clean_temp_files(settings.TEMP_FILE_MAX_AGE_SECONDS)
        if removed:
            logger.warning("removed %d upload temp file(s) a stopped process left", len(removed))
        try:
            yield
        finally:
            if backends is None:
                context.backends.close()

    app = FastAPI(
        title="Hangar",
        summary="Users, projects and their files, on whichever infrastructure you configure.",
        version="0.1.0",
        lifespan=lifespan,
        form_limits={"max_fields": 16, "max_files": 1, "max_part_size": 64 * 1024},
    )
    app.add_middleware(
        BodySizeLimitMiddleware, max_body_bytes=settings.MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES
    )
    if settings.CORS_ORIGINS:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.CORS_ORIGINS,
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type"],
        )
    # Outermost, so that every response has a request id and no error escapes as a trace,
    # and even that last-resort 500 carries the security headers.
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_exception_handler(HangarError, _hangar_error)

    for router in ROUTERS:
        _add_routes(app, router, API_PREFIX)
    _docs_last(app)
    return app


# Every setting `add_api_route` takes is kept on the route under the same name.
_ROUTE_SETTINGS = [
    name
    for name in inspect.signature(APIRouter.add_api_route).parameters
    if name not in {"self", "path", "endpoint", "route_class_override"}
]


def _add_routes(app: FastAPI, router: APIRouter, prefix: str) -> None:
    """The router's routes, added to the app itself as `include_router` would show them. Since
    FastAPI 0.137 an included router stays one node that every request resolves again, twice
    (to find the node, then its route): 100-130k instructions, a fifth of a page or a get
    request. Routes of the app are matched in one pass."""
    for route in router.routes:
        if not isinstance(route, APIRoute):
            raise TypeError(f"{route!r}: only API routes can be added to the app")
        settings = {name: getattr(route, name) for name in _ROUTE_SETTINGS}
        app.router.add_api_route(
            prefix + route.path, route.endpoint, route_class_override=type(route), **settings
        )


def _docs_last(app: FastAPI) -> None:
    """FastAPI adds its docs routes first, so every API request was matched against all four
    of them before its own (30k instructions, 4% of a page request); they go last instead."""
    docs = {app.openapi_url, app.docs_url, app.swagger_ui_oauth2_redirect_url, app.redoc_url}
    app.router.routes.sort(key=lambda route: getattr(route, "path", None) in docs)


app = create_app()
