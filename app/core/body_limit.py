"""A cap on request bodies, enforced while they stream in, answered as a JSON 413; a JSON 408
for a body that stops arriving; and no multipart body read from a request without a bearer
token."""

from __future__ import annotations

import asyncio

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.headers import header


class BodySizeLimitMiddleware:
    """Refuses a declared Content-Length over the cap before reading anything, and cuts off a
    chunked body the moment it passes the cap (FastAPI turns the raised HTTPException into a
    JSON 413; whatever was spooled so far is discarded with the request).

    A multipart body (an upload) without a bearer token is a 401 before a byte of it is read:
    FastAPI reads and spools a form before it solves the route's dependencies, authentication
    included, so without this an anonymous client could make the server spool up to the cap.
    Every multipart route of Hangar needs a caller (the login form is urlencoded); the token
    itself is checked by the route's dependencies once the body is in.

    Each piece of a body must arrive within `read_timeout` seconds of the app asking for it, or
    the request is a 408 and the connection is closed (neither uvicorn nor httptools has a body
    timeout, so a client could hold a request, a thread and a spooled upload open forever). The
    timeout is on the gap, as nginx's `client_body_timeout`, not on the whole body: a large
    upload over a slow but steady link may take far longer than any one wait. Once the body is
    in, `receive` is not timed: it then only waits for the client to disconnect, which a
    streamed download does for as long as it lasts."""

    def __init__(
        self, app: ASGIApp, max_body_bytes: int, read_timeout: float | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if _multipart_without_bearer(scope):
            response = JSONResponse(
                {"detail": "Not authenticated"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            response = JSONResponse({"detail": self._detail()}, status_code=413)
            await response(scope, receive, send)
            return
        received = 0
        body_pending = True

        async def limited_receive() -> Message:
            nonlocal received, body_pending
            if not body_pending:
                return await receive()
            try:
                async with asyncio.timeout(self.read_timeout):
                    message = await receive()
            except TimeoutError:
                raise HTTPException(
                    status_code=408,
                    detail=f"The request body did not arrive within {self.read_timeout:g} seconds",
                    headers={"Connection": "close"},
                ) from None
            if message["type"] != "http.request":
                body_pending = False
                return message
            body_pending = message.get("more_body", False)
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise HTTPException(status_code=413, detail=self._detail())
            return message

        await self.app(scope, limited_receive, send)

    def _detail(self) -> str:
        return f"Request body is larger than the limit of {self.max_body_bytes} bytes"


def _multipart_without_bearer(scope: Scope) -> bool:
    content_type = header(scope, b"content-type") or ""
    if not content_type.lower().startswith("multipart/"):
        return False
    scheme, _, token = (header(scope, b"authorization") or "").partition(" ")
    return scheme.lower() != "bearer" or not token.strip()
