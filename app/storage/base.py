"""File storage interface every blob backend implements.

Sync for the same reason as the repositories (see `app.repositories.base`): the HTTP layer
moves bulk transfers to the threadpool, and a notebook calls these methods directly.
"""

from __future__ import annotations

import io
import re
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Protocol

from app.core.config import SEVEN_DAYS
from app.errors import HangarError, StorageKeyRejected

if TYPE_CHECKING:
    from app.core.config import Settings

CHUNK_SIZE = 1024 * 1024
MAX_PRESIGN_SECONDS = SEVEN_DAYS
_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
DATABASE_MARKER = ".hangar-database-"
"""`.hangar-database-<id>` at the root of a storage binds it to that database: its keys are
that database's files. It starts with a dot, which no key segment may, so markers never mix
with keys and existing keys stay as they are."""


def key_segments(key: str) -> list[str]:
    """Split a key into path segments, refusing empty, dot-dot, absolute or odd-character keys
    in every backend alike, so a key that works on one works on all."""
    segments = key.split("/")
    if not key or not all(_SEGMENT.match(segment) for segment in segments):
        raise StorageKeyRejected(f"Invalid storage key: {key!r}")
    return segments


class Readable(Protocol):
    """Anything with `read(size)`: an open file, an upload, a hashing wrapper."""

    def read(self, size: int = -1, /) -> bytes: ...


def as_stream(content: Readable | bytes) -> Readable:
    """Let callers pass bytes where a stream is expected."""
    return io.BytesIO(content) if isinstance(content, bytes | bytearray) else content


@dataclass(frozen=True)
class TempFile:
    """The temp file of an upload: one in progress, or what a killed process left."""

    path: Path
    age: float
    """Seconds since it was last written."""
    writer_running: bool | None
    """Whether the process writing it still runs; None when that cannot be told (a file
    without a writer in its name, or written on another host). For an open direct upload,
    whether its ticket is still valid."""
    upload_expires: int | None = None
    """For the folder of an open direct upload's parts: when its ticket expires (Unix time),
    after which no part can be sent to it and no completion can use it."""

    def is_leftover(self, max_age: float) -> bool:
        """Its writer is gone, or, when that cannot be told, it is older than `max_age`."""
        if self.writer_running is None:
            return self.age >= max_age
        return not self.writer_running


def remove_temp(path: Path) -> None:
    """Remove a temp file, or an upload's folder of parts; one already gone is no error."""
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


class UploadNotFound(HangarError):
    """No direct upload with this id is open: never started, aborted, or already completed."""

    status_code = 404

    def __init__(self, detail: str = "No such upload, or it is already completed") -> None:
        super().__init__(detail)


class KeyTaken(HangarError):
    """A direct upload completes only into a key that holds nothing yet."""

    status_code = 409

    def __init__(self, detail: str = "This upload is already completed") -> None:
        super().__init__(detail)


class PartOutOfRange(HangarError):
    """A part that does not fit the layout its upload was opened with."""

    status_code = 400


def part_offset(part_number: int, part_size: int | None) -> int:
    """Where part `part_number` starts in the file: parts 1 to n follow one another, each
    `part_size` bytes but the last; an upload opened without a part size has one part."""
    if part_number < 1 or (part_size is None and part_number != 1):
        raise PartOutOfRange(f"No part {part_number} in this upload")
    return (part_number - 1) * (part_size or 0)


def check_part_size(size: int, part_size: int | None) -> None:
    """Refuse a part longer than the upload's part size: it would spill into the next one."""
    if part_size is not None and size > part_size:
        raise PartOutOfRange(f"A part of this upload holds at most {part_size} bytes")


def joined_size(part_numbers: list[int], sizes: dict[int, int], part_size: int | None) -> int:
    """The size of the file that parts `part_numbers` make: they must be parts 1 to n, all
    stored, each but the last full; UploadNotFound else."""
    complete = part_numbers == list(range(1, len(part_numbers) + 1)) and all(
        number in sizes for number in part_numbers
    )
    if not part_numbers or not complete:
        raise UploadNotFound("A part of this upload is missing")
    if any(sizes[number] != part_size for number in part_numbers[:-1]):
        raise UploadNotFound("A part of this upload is shorter than the part size")
    return sum(sizes[number] for number in part_numbers)


def check_expiry(expires_in: int) -> None:
    """Presigned links live between one second and seven days, as S3 allows."""
    if not 1 <= expires_in <= MAX_PRESIGN_SECONDS:
        raise ValueError(f"expires_in must be between 1 and {MAX_PRESIGN_SECONDS} seconds")


class FileStorage(ABC):
    network_bound: ClassVar[bool] = False
    """True when calls cross a network, so the HTTP layer runs them off the event loop."""

    @abstractmethod
    def upload_file(self, key: str, content: Readable | bytes) -> int:
        """Store a stream (read in chunks, never whole) under `key`, all or nothing; return its
        size. If reading `content` raises, nothing is left behind and the error propagates."""

    @abstractmethod
    def download_file(self, key: str) -> Iterator[bytes]:
        """Stream the bytes under `key` in chunks; BlobNotFound if absent."""

    @abstractmethod
    def delete_file(self, key: str) -> None:
        """Remove `key`; a missing key is not an error, so deletes can be retried."""

    @abstractmethod
    def generate_presigned_url(
        self, key: str, expires_in: int = 3600, filename: str | None = None
    ) -> str:
        """A URL that serves the bytes for GET without a bearer token until it expires."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether `key` holds bytes."""

    @abstractmethod
    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Every key starting with `prefix` (for repair and migration tools)."""

    @abstractmethod
    def database_ids(self) -> frozenset[str]:
        """The databases bound to this storage (the ids of its markers)."""

    @abstractmethod
    def bind_database(self, database_id: str) -> None:
        """Record that `database_id` keeps files here; binding again changes nothing."""

    # Direct uploads: the client sends the bytes of `key` in numbered parts (one, for a small
    # file), each by PUT to a URL signed for it; `complete_upload` makes the key appear whole.
    @abstractmethod
    def start_upload(self, key: str, expires: int, part_size: int | None = None) -> str:
        """Open a direct upload of `key` until the Unix time `expires`; its upload id. Its
        parts hold `part_size` bytes each but the last (`part_offset`), so a storage can write
        each in its place in the file; with no part size it has one part."""

    @abstractmethod
    def presign_part(
        self, key: str, upload_id: str, part_number: int, size: int, expires_in: int
    ) -> str:
        """A URL that stores part `part_number` (exactly `size` bytes) by PUT, without a
        bearer token, until it expires; sending a part again replaces it."""

    @abstractmethod
    def upload_part(self, key: str, upload_id: str, part_number: int, content: Readable) -> int:
        """Store one part, durably before it returns; its size. UploadNotFound if the upload
        is not open; PartOutOfRange, here or at completion, for a part that does not fit. A
        part that fails half way is not stored (one sent before it may be gone too)."""

    @abstractmethod
    def list_parts(self, key: str, upload_id: str) -> dict[int, int]:
        """The size of each part stored so far, by part number; UploadNotFound if the upload
        is not open."""

    @abstractmethod
    def complete_upload(self, key: str, upload_id: str, part_numbers: list[int]) -> str | None:
        """Join these parts (1 to n), in order, into `key` and close the upload, at once: one
        caller of many completes it, the others get UploadNotFound (or KeyTaken when `key`
        already holds bytes, which are never replaced). The sha256 of the bytes now under
        `key` when the storage knows it without the caller reading them back, else None."""

    @abstractmethod
    def abort_upload(self, key: str, upload_id: str) -> None:
        """Close the upload and remove its parts; an upload not open is not an error."""

    def temp_files(self) -> list[TempFile]:
        """Temp files of uploads. Only local storage has any; the others write all or
        nothing."""
        return []

    def clean_temp_files(self, max_age_seconds: float) -> list[Path]:
        """Remove the temp files that are crash leftovers (`TempFile.is_leftover`) and return
        them; those of a writer still running, here or in another worker, stay."""
        removed = []
        for temp in self.temp_files():
            if temp.is_leftover(max_age_seconds):
                remove_temp(temp.path)
                removed.append(temp.path)
        return removed

    @abstractmethod
    def ping(self) -> None:
        """Touch the backing store; raise if it cannot answer."""


class StorageModule(Protocol):
    """What a storage backend's module offers `app.backends`, which finds it by name."""

    LOCATION_SETTING: str | None
    """The setting that says where its bytes live, or None."""
    ONE_PROCESS: bool
    """True when only one process may serve it."""

    def open_storage(self, settings: Settings) -> FileStorage: ...

    def locate(self, settings: Settings) -> tuple[str, ...]:
        """Where its bytes live: equal answers are the same bytes."""
        ...
