"""Blobs in a dict: for tests and notebooks, behaving exactly like the real backends."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator

from app.errors import BlobNotFound
from app.storage.base import CHUNK_SIZE, FileStorage, Readable, as_stream, key_segments
from app.storage.signing import UrlSigner


class MemoryStorage(FileStorage):
    def __init__(self, signer: UrlSigner) -> None:
        self._blobs: dict[str, bytes] = {}
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

    def ping(self) -> None:
        """Always reachable: it lives in this process."""
