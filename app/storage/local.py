"""Files on local disk: written atomically, confined to one root folder."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from app.errors import BlobNotFound, StorageFull, StorageKeyRejected
from app.storage.base import (
    CHUNK_SIZE,
    DATABASE_MARKER,
    FileStorage,
    Readable,
    TempFile,
    as_stream,
    key_segments,
)
from app.storage.processes import current_tag, is_running
from app.storage.signing import UrlSigner, url_signer

if TYPE_CHECKING:
    from app.core.config import Settings

LOCATION_SETTING = "LOCAL_STORAGE_PATH"
ONE_PROCESS = False

MIN_FREE_BYTES = 16 * 1024 * 1024
"""Below this much free space the storage's disk counts as full: /health reports it before
uploads start failing."""
NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
"""A full disk, a quota or a file size limit: the bytes do not fit."""
TEMP_PREFIX = ".tmp-"
"""Then the writer's tag (`app.storage.processes`), a dot and random characters."""


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
        fd, temp_name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{current_tag()}.", dir=path.parent)
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(CHUNK_SIZE):
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
            Path(temp_name).replace(path)
        except BaseException as error:
            Path(temp_name).unlink(missing_ok=True)
            if isinstance(error, OSError) and error.errno in NO_ROOM:
                raise StorageFull(f"The file storage is full ({self.root}): {error}") from error
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
        """Files whose path could be a key: no segment of a key starts with a dot, so temp
        files and database markers are left out."""
        for path in sorted(self.root.rglob("*")):
            relative = path.relative_to(self.root)
            if path.is_file() and not any(part.startswith(".") for part in relative.parts):
                key = relative.as_posix()
                if key.startswith(prefix):
                    yield key

    def database_ids(self) -> frozenset[str]:
        return frozenset(
            marker.name.removeprefix(DATABASE_MARKER)
            for marker in self.root.glob(f"{DATABASE_MARKER}*")
        )

    def bind_database(self, database_id: str) -> None:
        key_segments(database_id)
        (self.root / f"{DATABASE_MARKER}{database_id}").touch()
        _fsync_dir(self.root)

    def temp_files(self) -> list[TempFile]:
        """Temp files of uploads: uploads in progress, or leftovers of a process killed while
        it wrote, told apart by the writer their name carries."""
        now = time.time()
        found = []
        for path in self.root.rglob(f"{TEMP_PREFIX}*"):
            tag = path.name.removeprefix(TEMP_PREFIX).rpartition(".")[0]
            with contextlib.suppress(FileNotFoundError):  # finished while we looked
                age = now - path.stat().st_mtime
                found.append(TempFile(path, age, is_running(tag) if tag else None))
        return sorted(found, key=lambda temp: temp.path)

    def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise OSError(f"Storage folder is not writable: {self.root}")
        free = shutil.disk_usage(self.root).free
        if free < MIN_FREE_BYTES:
            raise StorageFull(f"The file storage's disk is full ({free} bytes free): {self.root}")


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


def open_storage(settings: Settings) -> LocalStorage:
    return LocalStorage(settings.LOCAL_STORAGE_PATH, url_signer(settings))


def locate(settings: Settings) -> tuple[str, ...]:
    return (str(settings.LOCAL_STORAGE_PATH.resolve()),)
