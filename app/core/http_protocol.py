"""The HTTP/1.1 protocol `hangar serve` runs: uvicorn's httptools one, with the limits on the
request head that llhttp and uvicorn leave out (any size, any number of headers is read).

A head over MAX_HEAD_BYTES (request line and headers) or with more than MAX_HEADERS headers
gets 431 and the connection is closed, as nginx, Apache and Node do, before the app sees it:
the count runs while the head streams in, so an endless header is cut off at the limit rather
than read whole (an ASGI middleware would only see it after that).
"""

from __future__ import annotations

import json

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

MAX_HEAD_BYTES = 32 * 1024
"""nginx's default (four 8 KiB buffers); a token and a few cookies are far below it."""
MAX_HEADERS = 100
"""Apache's and gunicorn's default."""
TOO_LARGE = 431
_BODY = json.dumps({"detail": "Request header fields too large"}).encode()


class _HeadTooLarge(Exception):
    """Raised in a parser callback, which makes httptools stop and report a parser error."""


class HeadLimitedHttpToolsProtocol(HttpToolsProtocol):
    """`HttpToolsProtocol` that refuses an oversized request head with 431."""

    _head_bytes = 0
    """Bytes of the current head the parser has handed over (URL pieces, whole headers)."""
    _unparsed_bytes = 0
    """Bytes received since the current head began (httptools buffers a header until its end)."""
    _in_head = False
    _too_large = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = self._unparsed_bytes = 0
        self._in_head = True

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        if len(self.headers) >= MAX_HEADERS:
            self._refuse()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def data_received(self, data: bytes) -> None:
        continuing = self._in_head
        super().data_received(data)
        if continuing and self._in_head and not self._too_large:
            # The head was under way before this chunk and still is, so all of it is head.
            self._unparsed_bytes += len(data)
            if self._unparsed_bytes > MAX_HEAD_BYTES:
                self._too_large = True
                self._send_too_large()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error, which is what `_refuse` causes."""
        if self._too_large:
            self._send_too_large()
        else:
            super().send_400_response(msg)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._refuse()

    def _refuse(self) -> None:
        self._too_large = True
        raise _HeadTooLarge

    def _send_too_large(self) -> None:
        self.logger.warning(
            "Request head over %d bytes or %d headers: 431, connection closed",
            MAX_HEAD_BYTES,
            MAX_HEADERS,
        )
        content = [STATUS_LINE[TOO_LARGE]]
        for name, value in self.server_state.default_headers:
            content.extend([name, b": ", value, b"\r\n"])
        content.extend(
            [
                b"content-type: application/json\r\n",
                b"content-length: " + str(len(_BODY)).encode("ascii") + b"\r\n",
                b"connection: close\r\n",
                b"\r\n",
                _BODY,
            ]
        )
        self.transport.write(b"".join(content))
        self.transport.close()
