"""The app factory: `create_app(settings)` for tests and notebooks, `app` for uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.concurrency import run_in_threadpool

from app.backends import Backends
from app.context import AppContext
from app.core.body_limit import BodySizeLimitMiddleware
from app.core.config import Settings, get_settings
from app.core.docs import DOCS_URL, REDOC_URL, add_offline_docs
from app.core.headers import SecurityHeadersMiddleware
from app.core.openapi import operation_ids
from app.core.request_id import RequestIdMiddleware
from app.core.validation import validation_error_handler
from app.errors import HangarError
from app.routers.admin.endpoint import router as admin_router
from app.routers.auth.endpoint import account_router
from app.routers.auth.endpoint import router as auth_router
from app.routers.auth.services import purge_expired, purge_expired_tokens
from app.routers.files.endpoint import router as files_router
from app.routers.health.endpoint import router as health_router
from app.routers.projects.endpoint import router as projects_router
from app.routers.storage.endpoint import router as storage_router
from app.routers.uploads.endpoint import parts_router
from app.routers.uploads.endpoint import router as uploads_router
from app.routing import PresolvedRoute

API_PREFIX = "/api/v1"
# FastAPI tries routes in this order, so the busiest come first.
ROUTERS = (
    projects_router,
    files_router,
    auth_router,
    account_router,
    storage_router,
    uploads_router,
    parts_router,
    admin_router,
    health_router,
)
FORM_OVERHEAD_BYTES = 1024 * 1024
logger = logging.getLogger("app")


def _hangar_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HangarError)
    return JSONResponse(
        {"detail": error.detail}, status_code=error.status_code, headers=error.headers
    )


async def purge(context: AppContext) -> None:
    """One purge of expired sessions, tokens and login windows, in the threadpool on every
    backend (a first purge of an old file may take a while, and no request should wait for
    it); a failure is logged, never raised, and the next run tries again."""
    try:
        sessions, windows = await run_in_threadpool(
            purge_expired, sessions=context.backends.session_repo, throttle=context.throttle
        )
    except Exception:
        logger.exception("purging expired sessions and login windows failed")
        return
    if sessions or windows:
        logger.info(
            "purged %d expired session/refresh token row(s), %d lapsed login window(s)",
            sessions,
            windows,
        )
    try:
        tokens = await run_in_threadpool(purge_expired_tokens, tokens=context.backends.token_repo)
    except Exception:
        logger.exception("purging expired one-time tokens failed")
        return
    if tokens:
        logger.info("purged %d expired one-time token(s)", tokens)


async def purge_periodically(context: AppContext) -> None:
    """`purge` every PURGE_INTERVAL_SECONDS for as long as the app runs."""
    while True:
        await asyncio.sleep(context.settings.PURGE_INTERVAL_SECONDS)
        await purge(context)


def create_app(
    settings: Settings | None = None,
    backends: Backends | None = None,
    routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """Build the API for these settings. Backends open at start-up and close at shutdown,
    unless `backends` are handed in (a notebook's own), which the caller keeps and closes.
    `routers` are an extension's own, added under `/api/v1` after Hangar's; a router can as
    well be added to the returned app with `app.include_router`."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context = AppContext.from_settings(settings, backends)
        app.state.context = context
        storage = context.backends.file_storage
        removed = storage.clean_temp_files(settings.TEMP_FILE_MAX_AGE_SECONDS)
        if removed:
            logger.warning("removed %d upload temp file(s) a stopped process left", len(removed))
        purging = asyncio.create_task(purge_periodically(context))
        try:
            yield
        finally:
            purging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purging
            if backends is None:
                context.backends.close()

    app = FastAPI(
        title="Hangar",
        summary="Users, projects and their files, on whichever infrastructure you configure.",
        version="0.1.0",
        lifespan=lifespan,
        form_limits={"max_fields": 16, "max_files": 1, "max_part_size": 64 * 1024},
        generate_unique_id_function=operation_ids(),
        docs_url=None,  # add_offline_docs serves both pages without a CDN
        redoc_url=None,
    )
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_body_bytes=settings.MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES,
        read_timeout=settings.BODY_READ_TIMEOUT_SECONDS,
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
    app.add_exception_handler(RequestValidationError, validation_error_handler)

    for router in (*ROUTERS, *routers):
        add_router(app, router, API_PREFIX)
    add_offline_docs(app)
    _docs_last(app)
    return app


# Every setting `add_api_route` takes is kept on the route under the same name.
_ROUTE_SETTINGS = [
    name
    for name in inspect.signature(APIRouter.add_api_route).parameters
    if name not in {"self", "path", "endpoint", "route_class_override"}
]


def add_router(app: FastAPI, router: APIRouter, prefix: str = "") -> None:
    """`app.include_router(router, prefix=prefix)`, with the router's routes added to the app
    itself when they are all plain API and websocket routes. An included router is one more
    node that every request resolves (to find the node, then its route: see
    docs/performance.md); the app's own routes are matched in one pass. The docs, the
    dependencies and the overrides are the same either way (tests/unit/test_routes.py); a
    router holding anything else (a nested router, a mount) is included as it is. Plain API
    routes become `PresolvedRoute`s (app/routing.py), which solve simple dependencies
    without FastAPI's general machinery."""
    if not all(isinstance(route, APIRoute | APIWebSocketRoute) for route in router.routes):
        app.include_router(router, prefix=prefix)
        return
    for route in router.routes:
        if isinstance(route, APIWebSocketRoute):
            app.router.add_api_websocket_route(
                prefix + route.path, route.endpoint, route.name, dependencies=route.dependencies
            )
            continue
        assert isinstance(route, APIRoute)
        settings = {name: getattr(route, name) for name in _ROUTE_SETTINGS}
        route_class = PresolvedRoute if type(route) is APIRoute else type(route)
        app.router.add_api_route(
            prefix + route.path, route.endpoint, route_class_override=route_class, **settings
        )


def _docs_last(app: FastAPI) -> None:
    """FastAPI adds its OpenAPI route first, so every API request would be matched against it
    before its own; it goes last instead, with the docs pages."""
    docs = {app.openapi_url, DOCS_URL, app.swagger_ui_oauth2_redirect_url, REDOC_URL}
    app.router.routes.sort(key=lambda route: getattr(route, "path", None) in docs)


app = create_app()
