"""Swagger UI and ReDoc served by the app itself, so /docs and /redoc work without internet.

The JavaScript, CSS and favicon come from the `fastapi-offline` package, which ships the
releases FastAPI's pages would load from a CDN; the pages are FastAPI's own
(`get_swagger_ui_html`, `get_redoc_html`), as in FastAPI's "Custom Docs UI Static Assets".
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
ASSETS_URL = "/docs/static"
ASSET_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png")
# The token a user enters under "Authorize" survives a reload of the page.
SWAGGER_UI_PARAMETERS = {"persistAuthorization": True}
REDOC_CONTENT_SECURITY_POLICY = "img-src 'self' data:"


def assets_folder() -> Path:
    """Where the installed `fastapi-offline` keeps its assets; an error names a missing one,
    so that a release that renames a file fails at start-up rather than as a blank page."""
    folder = Path(str(resources.files("fastapi_offline").joinpath("static")))
    missing = [name for name in ASSET_FILES if not (folder / name).is_file()]
    if missing:
        raise RuntimeError(f"fastapi-offline has no {', '.join(missing)} in {folder}")
    return folder


def add_offline_docs(
    app: FastAPI,
    *,
    docs_url: str = DOCS_URL,
    redoc_url: str = REDOC_URL,
    assets_url: str = ASSETS_URL,
) -> None:
    """Add Swagger UI at `docs_url` (with its OAuth2 redirect page), ReDoc at `redoc_url` and
    their assets under `assets_url`, for an app created with `docs_url=None, redoc_url=None`.
    Titles, `swagger_ui_parameters` and `swagger_ui_init_oauth` are the app's own."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        raise ValueError("the docs pages need the app's OpenAPI schema (openapi_url)")
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url
    app.mount(assets_url, StaticFiles(directory=assets_folder()), name="docs-static")

    @app.get(docs_url, include_in_schema=False)
    async def swagger_ui_html(request: Request) -> HTMLResponse:
        # Behind a proxy that strips a prefix, every URL the page loads needs it back.
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{assets_url}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{assets_url}/swagger-ui.css",
            swagger_favicon_url=f"{root}{assets_url}/favicon.png",
            oauth2_redirect_url=root + oauth2_redirect_url if oauth2_redirect_url else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters={**SWAGGER_UI_PARAMETERS, **(app.swagger_ui_parameters or {})},
        )

    if oauth2_redirect_url:

        @app.get(oauth2_redirect_url, include_in_schema=False)
        async def swagger_ui_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()

    @app.get(redoc_url, include_in_schema=False)
    async def redoc_html(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        page = get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{assets_url}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{assets_url}/favicon.png",
            with_google_fonts=False,
        )
        # ReDoc's sidebar always loads its maker's logo from a CDN: offline that is one more
        # failed request, online it tells a third party that someone reads these docs.
        page.headers["Content-Security-Policy"] = REDOC_CONTENT_SECURITY_POLICY
        return page
