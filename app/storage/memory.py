"""Blobs in a dict: for tests and notebooks, behaving exactly like the real backends."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
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
    check_part_size,
    joined_size,
    key_segments,
    part_offset,
)
from app.storage.signing import UrlSigner, url_signer

if TYPE_CHECKING:
    from app.core.config import Settings

LOCATION_SETTING = None
ONE_PROCESS = True


@dataclass
class _Upload:
    key: str
    part_size: int | None
    parts: dict[int, bytes] = field(default_factory=dict)


class MemoryStorage(FileStorage):
    def __init__(self, signer: UrlSigner) -> None:
        self._blobs: dict[str, bytes] = {}
        self._databases: set[str] = set()
        self._uploads: dict[str, _Upload] = {}
        """Open direct uploads, by id."""
        self._lock = threading.Lock()
        self._signer = signer

    def upload_file(self, key: str, content: Readable | bytes) -> int:
        key_segments(key)
        data = _read_all(as_stream(content))
        with self._lock:
            self._blobs[key] = data
        return len(data)

    def start_upload(self, key: str, expires: int, part_size: int | None = None) -> str:
        """Open until completed or aborted: nothing outlives the process anyway."""
        key_segments(key)
        upload_id = new_id()
        with self._lock:
            self._uploads[upload_id] = _Upload(key, part_size)
        return upload_id

    def presign_part(
        self, key: str, upload_id: str, part_number: int, size: int, expires_in: int
    ) -> str:
        key_segments(key)
        return self._signer.sign_part(key, upload_id, part_number, size, expires_in)

    def _upload(self, key: str, upload_id: str) -> _Upload:
        key_segments(key)
        upload = self._uploads.get(upload_id)
        if upload is None or upload.key != key:
            raise UploadNotFound()
        return upload

    def upload_part(self, key: str, upload_id: str, part_number: int, content: Readable) -> int:
        """As local storage does, a part sent again is unmarked until it is whole."""
        with self._lock:
            upload = self._upload(key, upload_id)
            part_offset(part_number, upload.part_size)
            upload.parts.pop(part_number, None)
        data = _read_all(content)
        check_part_size(len(data), upload.part_size)
        with self._lock:
            self._upload(key, upload_id).parts[part_number] = data
        return len(data)

    def list_parts(self, key: str, upload_id: str) -> dict[int, int]:
        with self._lock:
            parts = self._upload(key, upload_id).parts
            return {number: len(data) for number, data in parts.items()}

    def complete_upload(self, key: str, upload_id: str, part_numbers: list[int]) -> str:
        with self._lock:
            upload = self._upload(key, upload_id)
            if key in self._blobs:
                raise KeyTaken()
            sizes = {number: len(data) for number, data in upload.parts.items()}
            joined_size(part_numbers, sizes, upload.part_size)
            data = b"".join(upload.parts[number] for number in part_numbers)
            self._blobs[key] = data
            del self._uploads[upload_id]
        return hashlib.sha256(data).hexdigest()

    def abort_upload(self, key: str, upload_id: str) -> None:
        key_segments(key)
        with self._lock:
            if upload_id in self._uploads and self._uploads[upload_id].key == key:
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
