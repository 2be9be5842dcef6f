"""The request id middleware: an id per request in the logs and the response, and a bare JSON
500 for an error nothing else handled."""

from __future__ import annotations

import logging

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.headers import header
from app.core.logging import REQUEST_ID_HEADER, incoming_or_new_id, request_id

_RAW_ID_HEADER = REQUEST_ID_HEADER.lower().encode()
logger = logging.getLogger("app")


class RequestIdMiddleware:
    """Gives each HTTP request an id, returns it in `X-Request-ID`, and turns an unhandled
    error into a logged cause plus a bare JSON 500: the client never sees a stack trace.

    Registered outermost, so it sees every error of the app and its other middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        current = incoming_or_new_id(header(scope, _RAW_ID_HEADER))
        token = request_id.set(current)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = [
                    *message.get("headers", ()),
                    (_RAW_ID_HEADER, current.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            logger.exception("unhandled error on %s %s", scope["method"], scope["path"])
            if started:
                raise  # too late for a response: the server drops the connection
            response = JSONResponse({"detail": "Internal server error"}, status_code=500)
            await response(scope, receive, send_with_id)
        finally:
            request_id.reset(token)
