"""File operations: bytes go to storage, metadata to the file repository, in an order that
never shows a client a half-written file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from app.errors import FileTooLarge, NotFound
from app.models import FileRecord, Page, PageKey, User, new_id, utc_now
from app.repositories.base import FileRepository, ProjectRepository
from app.routers.projects.services import get_owned_project
from app.storage.base import FileStorage, Readable
from app.storage.hashing import HashBeside

DEFAULT_CONTENT_TYPE = "application/octet-stream"
_CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;\s*[\w.+-]+=[\w.+\"-]+)*$")


class CountingReader:
    """Hashes and counts a stream while storage reads it, and stops it past the size limit,
    so an oversize upload fails inside the storage write and leaves nothing behind. Each
    chunk is hashed beside the storage's work on it (`HashBeside`)."""

    def __init__(self, stream: Readable, max_bytes: int) -> None:
        self._stream = stream
        self._max = max_bytes
        self.size = 0
        self._sha256 = HashBeside()

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._stream.read(size)
        self.size += len(chunk)
        if self.size > self._max:
            raise FileTooLarge(f"File is larger than the limit of {self._max} bytes")
        self._sha256.update(chunk)
        return chunk

    def hexdigest(self) -> str:
        """The sha256 of every byte read."""
        return self._sha256.hexdigest()


def clean_filename(filename: str | None) -> str:
    """Keep the client's name as metadata only: its last path segment, without control
    characters, at most 255 characters."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = "".join(c for c in name if c.isprintable()).strip()
    return name[:255] if name and name not in {".", ".."} else "file"


def clean_content_type(content_type: str | None) -> str:
    value = (content_type or "").strip()
    return value if len(value) <= 255 and _CONTENT_TYPE.match(value) else DEFAULT_CONTENT_TYPE


def upload_file(
    project_id: str,
    stream: Readable,
    *,
    owner: User,
    filename: str | None,
    content_type: str | None,
    max_bytes: int,
    project_repo: ProjectRepository,
    file_repo: FileRepository,
    storage: FileStorage,
) -> FileRecord:
    """Store bytes first and metadata second; if the metadata write fails the bytes are
    removed, so a file is either listed with its bytes or not there at all."""
    get_owned_project(project_id, owner=owner, repo=project_repo)
    file_id = new_id()
    key = f"{project_id}/{file_id}"
    reader = CountingReader(stream, max_bytes)
    storage.upload_file(key, reader)
    record = FileRecord(
        id=file_id,
        project_id=project_id,
        owner_id=owner.id,
        filename=clean_filename(filename),
        content_type=clean_content_type(content_type),
        size=reader.size,
        sha256=reader.hexdigest(),
        storage_key=key,
        created_at=utc_now(),
    )
    return record_stored(record, file_repo=file_repo, storage=storage)


def record_stored(
    record: FileRecord, *, file_repo: FileRepository, storage: FileStorage
) -> FileRecord:
    """Add the record of bytes already stored; if that fails the bytes are removed, so no
    bytes are left that no record names."""
    try:
        return file_repo.add_file(record)
    except BaseException:
        storage.delete_file(record.storage_key)
        raise


def get_file(
    project_id: str,
    file_id: str,
    *,
    owner: User,
    project_repo: ProjectRepository,
    file_repo: FileRepository,
) -> FileRecord:
    """A file of one of the owner's projects; NotFound for anything else."""
    get_owned_project(project_id, owner=owner, repo=project_repo)
    record = file_repo.get_file(project_id, file_id)
    if record is None:
        raise NotFound("File not found")
    return record


def list_files(
    project_id: str,
    *,
    owner: User,
    project_repo: ProjectRepository,
    file_repo: FileRepository,
    limit: int = 20,
    after: PageKey | None = None,
) -> Page[FileRecord]:
    """A project's files, newest first."""
    get_owned_project(project_id, owner=owner, repo=project_repo)
    return file_repo.list_files(project_id, limit=limit, after=after)


def open_file(record: FileRecord, *, storage: FileStorage) -> Iterator[bytes]:
    """The file's bytes, streamed."""
    return storage.download_file(record.storage_key)


def presign_file(
    record: FileRecord, *, storage: FileStorage, expires_in: int
) -> tuple[str, datetime]:
    """A link that downloads the file without a token until it expires."""
    expires_at = utc_now() + timedelta(seconds=expires_in)
    url = storage.generate_presigned_url(record.storage_key, expires_in, record.filename)
    return url, expires_at


def delete_file(
    project_id: str,
    file_id: str,
    *,
    owner: User,
    project_repo: ProjectRepository,
    file_repo: FileRepository,
    storage: FileStorage,
) -> None:
    """Metadata first, then bytes: a failure in between leaves only unseen bytes."""
    record = get_file(
        project_id, file_id, owner=owner, project_repo=project_repo, file_repo=file_repo
    )
    if not file_repo.delete_file(project_id, file_id):
        raise NotFound("File not found")  # a concurrent delete took it: that one answers 204
    storage.delete_file(record.storage_key)
