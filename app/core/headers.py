"""Security headers on every response, as a pure ASGI middleware (streaming stays intact)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
# As ASGI sends them: lower-case names, bytes.
_RAW_HEADERS = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]


class SecurityHeadersMiddleware:
    """Adds the headers a route did not set itself: API answers carry tokens and private data,
    so no cache may keep them, no page may frame them and no browser may sniff their type.
    Works on the raw header list: Starlette's header objects cost more than the rest of it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [header for header in _RAW_HEADERS if header[0] not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def content_disposition(filename: str) -> str:
    """An attachment header that is safe for any name: an ASCII fallback with quotes and
    control characters removed, and the exact name percent-encoded as RFC 6266 allows."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def header(scope: Scope, name: bytes) -> str | None:
    """One request header by its lower-case name, read from the raw list: a middleware runs on
    every request, and building Starlette's `Headers` costs more than the lookup."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
