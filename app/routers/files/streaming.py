"""Request bodies read as they arrive: a multipart upload's file part, or a raw body, handed to
a storage write as blocking reads from a worker thread, so its bytes go from the socket to
storage once, with no spool file in between.

FastAPI reads a form before it solves a route's dependencies; `StreamedFormRequest` reads only
the parts before the first file and that file's headers, so the caller and the project are
checked before a byte of the file is read, and the file's bytes are read while storage writes
them (`FileStream`). The body cap and the read timeout of `BodySizeLimitMiddleware` hold for
every byte, since all of them come through the request's `receive`.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from collections import deque
from collections.abc import AsyncIterator
from functools import partial
from typing import Any, BinaryIO, cast

import anyio.from_thread
import anyio.lowlevel
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import FormData, Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from app.routing import Handler, PresolvedRoute
from app.storage.base import CHUNK_SIZE

logger = logging.getLogger("app")


class Pieces:
    """Byte strings queued in order, taken a number of bytes at a time without copying them
    (a piece split in two becomes two views of it): a body's one copy is the final join."""

    def __init__(self) -> None:
        self._pieces: deque[bytes | memoryview] = deque()
        self.size = 0

    def put(self, piece: bytes | memoryview) -> None:
        if piece:
            self._pieces.append(piece)
            self.size += len(piece)

    def take(self, size: int, *, split: bool = True) -> list[bytes | memoryview]:
        """The first `size` bytes (all, if fewer), in pieces; with `split` off, whole pieces
        up to the one that reaches `size`."""
        taken = []
        while self._pieces and size > 0:
            piece = self._pieces.popleft()
            if split and len(piece) > size:
                view = memoryview(piece)
                piece, rest = view[:size], view[size:]
                self._pieces.appendleft(rest)
            taken.append(piece)
            size -= len(piece)
            self.size -= len(piece)
        return taken


class BodyStream:
    """A request body as blocking `read(size)` calls, from any thread but the event loop's.
    The loop reads ahead of the reader, up to `READ_AHEAD` bytes, so the socket keeps
    delivering while storage writes what came before; one loop hop per read, not per
    message. An error of the body (413, 408, a client gone) reaches the reader at its next
    read."""

    READ_AHEAD = 4 * CHUNK_SIZE

    def __init__(self, request: Request) -> None:
        self._chunks: AsyncIterator[bytes] = request.stream()
        self._token = anyio.lowlevel.current_token()
        self._pieces = Pieces()
        self._received_all = False
        self._error: Exception | None = None
        self._filling: asyncio.Task[None] | None = None
        self._arrived = asyncio.Event()

    @property
    def ended(self) -> bool:
        """Whether every byte of the body has been handed out."""
        return self._received_all and not self._pieces.size

    async def _fill(self) -> None:
        try:
            while self._pieces.size < self.READ_AHEAD:
                chunk = await anext(self._chunks, None)
                if chunk is None:
                    self._received_all = True
                    return
                self._pieces.put(chunk)
                self._arrived.set()
        except Exception as error:
            self._error = error
        finally:
            self._filling = None
            self._arrived.set()

    def _read_ahead(self) -> None:
        if self._filling is None and not self._received_all and self._error is None:
            self._filling = asyncio.create_task(self._fill())

    async def pull(
        self, size: int, at_least: int | None = None, *, split: bool = True
    ) -> list[bytes | memoryview]:
        """Up to `size` bytes (about `size`, in whole messages, with `split` off), once
        `at_least` (by default `size`) arrived or the body ended; on the event loop."""
        wanted = size if at_least is None else at_least
        while self._pieces.size < wanted and not self._received_all and self._error is None:
            self._arrived.clear()
            self._read_ahead()
            await self._arrived.wait()
        if self._error is not None and self._pieces.size < wanted:
            raise self._error
        pieces = self._pieces.take(size, split=split)
        self._read_ahead()
        return pieces

    def read_messages(self, size: int) -> list[bytes]:
        """About `size` bytes, as the messages they came in."""
        pull = partial(self.pull, size, split=False)
        return cast(list[bytes], anyio.from_thread.run(pull, token=self._token))

    def read(self, size: int = -1, /) -> bytes:
        pull = partial(self.pull, size if size >= 0 else 1 << 62)
        return b"".join(anyio.from_thread.run(pull, token=self._token))


class MultipartError(HTTPException):
    """A multipart body that cannot be read, answered as Starlette answers one: 400."""

    def __init__(self, detail: str) -> None:
        super().__init__(status_code=400, detail=detail)


class _Parts:
    """python-multipart's callbacks, kept as plain fields until the first file part begins,
    then the file's bytes as they come."""

    def __init__(self, charset: str, *, max_files: float, max_fields: float, max_part_size: int):
        self.charset = charset
        self.max_files = max_files
        self.max_fields = max_fields
        self.max_part_size = max_part_size
        self.fields: list[tuple[str, str]] = []
        self.file: tuple[str, str, Headers] | None = None
        """The first file part's field name, file name and headers, once they are in."""
        self.file_data = Pieces()
        self.file_ended = False
        self._files = 0
        self._name = b""
        self._value = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._disposition = b""
        self._field_name = ""
        self._field_value = bytearray()
        self._in_file = False

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self._part_begin,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
        }

    def _decode(self, raw: bytes | bytearray) -> str:
        try:
            return raw.decode(self.charset)
        except UnicodeDecodeError:
            return raw.decode("latin-1")

    def _part_begin(self) -> None:
        self._headers = []
        self._disposition = b""
        self._field_value = bytearray()
        self._in_file = False

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        name = self._name.lower()
        if name == b"content-disposition":
            self._disposition = self._value
        self._headers.append((name, self._value))
        self._name = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise MultipartError('The Content-Disposition header field "name" must be provided.')
        self._field_name = self._decode(options[b"name"])
        if b"filename" not in options:
            if len(self.fields) + 1 > self.max_fields:
                raise MultipartError(
                    f"Too many fields. Maximum number of fields is {self.max_fields}."
                )
            return
        self._files += 1
        if self._files > self.max_files:
            raise MultipartError(f"Too many files. Maximum number of files is {self.max_files}.")
        self._in_file = True
        filename = self._decode(options[b"filename"])
        self.file = (self._field_name, filename, Headers(raw=self._headers))

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.file_data.put(memoryview(data)[start:end])
            return
        if len(self._field_value) + end - start > self.max_part_size:
            raise MultipartError(
                f"Part exceeded maximum size of {int(self.max_part_size / 1024)}KB."
            )
        self._field_value += memoryview(data)[start:end]

    def _part_end(self) -> None:
        if self._in_file:
            self.file_ended = True
        else:
            self.fields.append((self._field_name, self._decode(self._field_value)))


class FileStream:
    """The bytes of a multipart body's one file part, read from the socket while storage
    writes them. The rest of the body is read once the file has ended, so a second file is
    refused as a spooled form would refuse it; a body that ends inside the file is a 400."""

    def __init__(self, body: BodyStream, parser: MultipartParser, parts: _Parts) -> None:
        self._body = body
        self._parser = parser
        self._parts = parts

    def read(self, size: int = -1, /) -> bytes:
        want = size if size >= 0 else 1 << 62
        data = self._parts.file_data
        while data.size < want and not self._parts.file_ended:
            if self._body.ended:
                raise MultipartError("The multipart body ends inside its file.")
            self._feed(self._body.read_messages(CHUNK_SIZE))
        if self._parts.file_ended and data.size <= want:
            while not self._body.ended:
                self._feed(self._body.read_messages(CHUNK_SIZE))
        return b"".join(data.take(want))

    def _feed(self, messages: list[bytes]) -> None:
        for message in messages:
            _feed(self._parser, message)

    def close(self) -> None:
        """Nothing to release: the bytes were never kept."""


def _feed(parser: MultipartParser, data: bytes) -> None:
    try:
        parser.write(data)
    except FormParserError as error:
        raise MultipartError("Invalid multipart data.") from error


class StreamedFormRequest(Request):
    """A request whose multipart form holds its fields and a file still to be read."""

    def form(
        self,
        *,
        max_files: float = 1000,
        max_fields: float = 1000,
        max_part_size: int = 1024 * 1024,
    ) -> Any:
        content_type, options = parse_options_header(self.headers.get("Content-Type"))
        if content_type != b"multipart/form-data":
            return super().form(
                max_files=max_files, max_fields=max_fields, max_part_size=max_part_size
            )
        return self._streamed_form(options, max_files, max_fields, max_part_size)

    async def _streamed_form(
        self, options: dict[bytes, bytes], max_files: float, max_fields: float, max_part: int
    ) -> FormData:
        if b"boundary" not in options:
            raise MultipartError("Missing boundary in multipart.")
        charset = options.get(b"charset", b"utf-8").decode("latin-1")
        try:
            charset = codecs.lookup(charset).name
        except LookupError:
            charset = "latin-1"
        parts = _Parts(charset, max_files=max_files, max_fields=max_fields, max_part_size=max_part)
        parser = MultipartParser(options[b"boundary"], parts.callbacks())  # type: ignore[arg-type]
        body = BodyStream(self)
        while parts.file is None and not body.ended:
            for message in await body.pull(CHUNK_SIZE, at_least=1, split=False):
                _feed(parser, cast(bytes, message))
        items: list[tuple[str, str | UploadFile]] = list(parts.fields)
        if parts.file is not None:
            name, filename, headers = parts.file
            stream = cast(BinaryIO, FileStream(body, parser, parts))
            items.append((name, UploadFile(stream, filename=filename, headers=headers)))
        return FormData(items)


class StreamedUploadRoute(PresolvedRoute):
    """A route whose multipart body is read as it arrives (`StreamedFormRequest`)."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(StreamedFormRequest(request.scope, request.receive))
            except ClientDisconnect:
                # Storage has removed what it wrote; the answer is for the access log only.
                logger.info("client went away during an upload to %s", request.url.path)
                return Response(status_code=400)

        return route
