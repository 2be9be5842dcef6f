"""Files on local disk: written atomically, confined to one root folder."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from app.errors import BlobNotFound, StorageFull, StorageKeyRejected
from app.models import new_id
from app.storage.base import (
    CHUNK_SIZE,
    DATABASE_MARKER,
    FileStorage,
    KeyTaken,
    Readable,
    TempFile,
    UploadNotFound,
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
UPLOADS = ".uploads"
"""The folder of open direct uploads: one folder each, `<expiry>-<id>`, holding a `key` file
and one file per part, named by its number. A dot name, so never a key."""


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
        return self._write(path, as_stream(content))

    def _write(self, path: Path, stream: Readable) -> int:
        """Write through a temp file beside `path`, fsynced, then renamed over it."""
        temp, size = self._write_temp(path.parent, lambda out: _copy(stream, out))
        temp.replace(path)
        _fsync_dir(path.parent)
        return size

    def _write_temp(self, folder: Path, fill: Callable[[BinaryIO], int]) -> tuple[Path, int]:
        """A fsynced temp file in `folder` holding what `fill` wrote, and its size; removed
        if `fill` fails."""
        fd, temp_name = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{current_tag()}.", dir=folder)
        try:
            with os.fdopen(fd, "wb") as out:
                size = fill(out)
                out.flush()
                os.fsync(out.fileno())
        except BaseException as error:
            Path(temp_name).unlink(missing_ok=True)
            if isinstance(error, OSError) and error.errno in NO_ROOM:
                raise StorageFull(f"The file storage is full ({self.root}): {error}") from error
            raise
        return Path(temp_name), size

    def _upload_folder(self, key: str, upload_id: str) -> Path:
        """The folder of an open upload of `key`; UploadNotFound if there is none."""
        self._path(key)
        key_segments(upload_id)
        folder = self.root / UPLOADS / upload_id
        try:
            if (folder / "key").read_text() == key:
                return folder
        except FileNotFoundError:
            pass
        raise UploadNotFound()

    def start_upload(self, key: str, expires: int) -> str:
        self._path(key)
        upload_id = f"{expires}-{new_id()}"
        folder = self.root / UPLOADS / upload_id
        folder.mkdir(parents=True)
        self._write(folder / "key", io.BytesIO(key.encode()))
        return upload_id

    def presign_part(
        self, key: str, upload_id: str, part_number: int, size: int, expires_in: int
    ) -> str:
        self._path(key)
        return self._signer.sign_part(key, upload_id, part_number, size, expires_in)

    def upload_part(self, key: str, upload_id: str, part_number: int, content: Readable) -> int:
        folder = self._upload_folder(key, upload_id)
        try:
            return self._write(folder / str(part_number), content)
        except FileNotFoundError:  # aborted or completed meanwhile
            raise UploadNotFound() from None

    def list_parts(self, key: str, upload_id: str) -> dict[int, int]:
        folder = self._upload_folder(key, upload_id)
        parts = {}
        for part in folder.iterdir():
            if part.name.isdigit():
                with contextlib.suppress(FileNotFoundError):
                    parts[int(part.name)] = part.stat().st_size
        return parts

    def complete_upload(self, key: str, upload_id: str, part_numbers: list[int]) -> None:
        """One part is linked into place as it is; more are joined in a temp file first. A
        hard link, unlike a rename, fails on a key that holds bytes: of two completions, one
        links, the other gets KeyTaken."""
        folder = self._upload_folder(key, upload_id)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        parts = [folder / str(number) for number in part_numbers]
        if not all(part.is_file() for part in parts):
            raise UploadNotFound("A part of this upload is missing")
        joined = None
        if len(parts) != 1:
            joined, _ = self._write_temp(path.parent, lambda out: _join(parts, out))
        try:
            os.link(joined or parts[0], path)
        except FileExistsError:
            raise KeyTaken() from None
        except FileNotFoundError:
            raise UploadNotFound() from None
        finally:
            if joined is not None:
                joined.unlink(missing_ok=True)
        _fsync_dir(path.parent)
        shutil.rmtree(folder, ignore_errors=True)

    def abort_upload(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(UploadNotFound):
            shutil.rmtree(self._upload_folder(key, upload_id), ignore_errors=True)

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
        # An open upload's parts are kept while its ticket lives, then they are leftovers.
        uploads = self.root / UPLOADS
        for folder in uploads.iterdir() if uploads.is_dir() else ():
            expires = folder.name.partition("-")[0]
            with contextlib.suppress(FileNotFoundError):
                age = now - folder.stat().st_mtime
                at = int(expires) if expires.isdigit() else 0
                found.append(TempFile(folder, age, now < at, upload_expires=at))
        return sorted(found, key=lambda temp: temp.path)

    def ping(self) -> None:
        if not os.access(self.root, os.W_OK):
            raise OSError(f"Storage folder is not writable: {self.root}")
        free = shutil.disk_usage(self.root).free
        if free < MIN_FREE_BYTES:
            raise StorageFull(f"The file storage's disk is full ({free} bytes free): {self.root}")


def _copy(stream: Readable, out: BinaryIO) -> int:
    size = 0
    while chunk := stream.read(CHUNK_SIZE):
        out.write(chunk)
        size += len(chunk)
    return size


def _join(parts: list[Path], out: BinaryIO) -> int:
    size = 0
    for part in parts:
        with part.open("rb") as source:
            size += _copy(source, out)
    return size


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
