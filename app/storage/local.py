"""Files on local disk: written atomically, confined to one root folder."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from app.errors import BlobNotFound, StorageKeyRejected
from app.storage.base import CHUNK_SIZE, FileStorage, Readable, as_stream, key_segments
from app.storage.signing import UrlSigner

TEMP_PREFIX = ".tmp-"


class LocalStorage(FileStorage):
    def __init__(self, root: Path, signer: UrlSigner) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._signer = signer

    def _path(self, key: str) -> Path:
        """Map a key to a path inside the root, refusing anything that could leave it."""
        path = self.root.joinpath(*key_segments(key))
        if not path.resolve().is_relative_to(self.root):
            raise StorageKeyRejected(f"Storage key leaves the storage root: {key!r}")
        return path

    def upload_file(self, key: str, content: Readable | bytes) -> int:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        stream = as_stream(content)
        fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK_SIZE):
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            Path(temp_name).replace(path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        _fsync_dir(path.parent)
        return size

    def download_file(self, key: str) -> Iterator[bytes]:
        path = self._path(key)
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise BlobNotFound() from None
        return _read_chunks(handle)

    def delete_file(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def generate_presigned_url(
        self, key: str, expires_in: int = 3600, filename: str | None = None
    ) -> str:
        self._path(key)
        return self._signer.sign(key, expires_in, filename)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and not path.name.startswith(TEMP_PREFIX):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key

    def temp_files(self) -> list[tuple[Path, float]]:
        """Temp files of uploads, each with its age in seconds: uploads in progress, or
        leftovers of a process killed while it wrote."""
        now = time.time()
        found = []
        for path in self.root.rglob(f"{TEMP_PREFIX}*"):
            with contextlib.suppress(FileNotFoundError):  # finished while we looked
                found.append((path, now - path.stat().st_mtime))
        return sorted(found)

    def clean_temp_files(self, older_than_seconds: float) -> list[Path]:
        """Remove temp files older than the threshold and return them. Only old ones: a young
        one may be an upload another worker sharing this folder is writing right now."""
        removed = []
        for path, age in self.temp_files():
            if age >= older_than_seconds:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise OSError(f"Storage folder is not writable: {self.root}")


def _read_chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK_SIZE):
            yield chunk


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable, not only the file's bytes."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
