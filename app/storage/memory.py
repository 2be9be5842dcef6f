"""Blobs in a dict: for tests and notebooks, behaving exactly like the real backends."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from app.errors import BlobNotFound
from app.models import new_id
from app.storage.base import (
    CHUNK_SIZE,
    FileStorage,
    KeyTaken,
    Readable,
    UploadNotFound,
    as_stream,
    key_segments,
)
from app.storage.signing import UrlSigner, url_signer

if TYPE_CHECKING:
    from app.core.config import Settings

LOCATION_SETTING = None
ONE_PROCESS = True


class MemoryStorage(FileStorage):
    def __init__(self, signer: UrlSigner) -> None:
        self._blobs: dict[str, bytes] = {}
        self._databases: set[str] = set()
        self._uploads: dict[str, tuple[str, dict[int, bytes]]] = {}
        """Open direct uploads: their key and parts."""
        self._lock = threading.Lock()
        self._signer = signer

    def upload_file(self, key: str, content: Readable | bytes) -> int:
        key_segments(key)
        data = _read_all(as_stream(content))
        with self._lock:
            self._blobs[key] = data
        return len(data)

    def start_upload(self, key: str, expires: int) -> str:
        """Open until completed or aborted: nothing outlives the process anyway."""
        key_segments(key)
        upload_id = new_id()
        with self._lock:
            self._uploads[upload_id] = (key, {})
        return upload_id

    def presign_part(
        self, key: str, upload_id: str, part_number: int, size: int, expires_in: int
    ) -> str:
        key_segments(key)
        return self._signer.sign_part(key, upload_id, part_number, size, expires_in)

    def _parts(self, key: str, upload_id: str) -> dict[int, bytes]:
        key_segments(key)
        upload = self._uploads.get(upload_id)
        if upload is None or upload[0] != key:
            raise UploadNotFound()
        return upload[1]

    def upload_part(self, key: str, upload_id: str, part_number: int, content: Readable) -> int:
        with self._lock:
            self._parts(key, upload_id)
        data = _read_all(content)
        with self._lock:
            self._parts(key, upload_id)[part_number] = data
        return len(data)

    def list_parts(self, key: str, upload_id: str) -> dict[int, int]:
        with self._lock:
            return {number: len(data) for number, data in self._parts(key, upload_id).items()}

    def complete_upload(self, key: str, upload_id: str, part_numbers: list[int]) -> None:
        with self._lock:
            parts = self._parts(key, upload_id)
            if key in self._blobs:
                raise KeyTaken()
            if not set(part_numbers) <= parts.keys():
                raise UploadNotFound("A part of this upload is missing")
            self._blobs[key] = b"".join(parts[number] for number in part_numbers)
            del self._uploads[upload_id]

    def abort_upload(self, key: str, upload_id: str) -> None:
        key_segments(key)
        with self._lock:
            if upload_id in self._uploads and self._uploads[upload_id][0] == key:
                del self._uploads[upload_id]

    def download_file(self, key: str) -> Iterator[bytes]:
        key_segments(key)
        with self._lock:
            data = self._blobs.get(key)
        if data is None:
            raise BlobNotFound()
        return (data[i : i + CHUNK_SIZE] for i in range(0, len(data), CHUNK_SIZE))

    def delete_file(self, key: str) -> None:
        key_segments(key)
        with self._lock:
            self._blobs.pop(key, None)

    def generate_presigned_url(
        self, key: str, expires_in: int = 3600, filename: str | None = None
    ) -> str:
        key_segments(key)
        return self._signer.sign(key, expires_in, filename)

    def exists(self, key: str) -> bool:
        key_segments(key)
        with self._lock:
            return key in self._blobs

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        with self._lock:
            keys = sorted(k for k in self._blobs if k.startswith(prefix))
        return iter(keys)

    def database_ids(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._databases)

    def bind_database(self, database_id: str) -> None:
        with self._lock:
            self._databases.add(database_id)

    def ping(self) -> None:
        """Always reachable: it lives in this process."""


def _read_all(stream: Readable) -> bytes:
    buffer = io.BytesIO()
    while chunk := stream.read(CHUNK_SIZE):
        buffer.write(chunk)
    return buffer.getvalue()


def open_storage(settings: Settings) -> MemoryStorage:
    return MemoryStorage(url_signer(settings))


def locate(settings: Settings) -> tuple[str, ...]:
    """No location: the bytes live in the process that opened it."""
    return ()
