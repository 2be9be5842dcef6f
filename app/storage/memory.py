"""Blobs in a dict: for tests and notebooks, behaving exactly like the real backends."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from app.errors import BlobNotFound
from app.storage.base import CHUNK_SIZE, FileStorage, Readable, as_stream, key_segments
from app.storage.signing import UrlSigner, url_signer

if TYPE_CHECKING:
    from app.core.config import Settings

LOCATION_SETTING = None
ONE_PROCESS = True


class MemoryStorage(FileStorage):
    def __init__(self, signer: UrlSigner) -> None:
        self._blobs: dict[str, bytes] = {}
        self._databases: set[str] = set()
        self._lock = threading.Lock()
        self._signer = signer

    def upload_file(self, key: str, content: Readable | bytes) -> int:
        key_segments(key)
        stream = as_stream(content)
        buffer = io.BytesIO()
        while chunk := stream.read(CHUNK_SIZE):
            buffer.write(chunk)
        with self._lock:
            self._blobs[key] = buffer.getvalue()
        return buffer.tell()

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


def open_storage(settings: Settings) -> MemoryStorage:
    return MemoryStorage(url_signer(settings))


def locate(settings: Settings) -> tuple[str, ...]:
    """No location: the bytes live in the process that opened it."""
    return ()
