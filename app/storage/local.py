"""Files on local disk: written atomically, confined to one root folder."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
    check_part_size,
    joined_size,
    key_segments,
    part_offset,
)
from app.storage.hashing import HashBeside
from app.storage.processes import current_tag, is_running
from app.storage.signing import UrlSigner, url_signer
from app.storage.writeback import Writeback

if TYPE_CHECKING:
    from hashlib import _Hash

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
"""The folder of open direct uploads: one folder each, `<expiry>-<id>`, holding `UPLOAD_INFO`,
`UPLOAD_DATA` and a marker per part sent, named by its number. A dot name, so never a key."""
UPLOAD_INFO = "upload.json"
"""An open upload's key and part size."""
UPLOAD_DATA = "data"
"""The file an upload makes: each part is written in its place, and completion links it into
its key, so its bytes are written once."""


@dataclass(frozen=True)
class _Upload:
    """An open direct upload: its folder (`UPLOADS`) and part size."""

    folder: Path
    part_size: int | None


class LocalStorage(FileStorage):
    def __init__(self, root: Path, signer: UrlSigner) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._signer = signer
        self._hashes = _RunningHashes()

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
            with self._full_disk(), os.fdopen(fd, "wb") as out:
                size = fill(out)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        return Path(temp_name), size

    @contextlib.contextmanager
    def _full_disk(self) -> Iterator[None]:
        """A write that does not fit as StorageFull."""
        try:
            yield
        except OSError as error:
            if error.errno in NO_ROOM:
                raise StorageFull(f"The file storage is full ({self.root}): {error}") from error
            raise

    def _open_upload(self, key: str, upload_id: str) -> _Upload:
        """The open upload of `key`; UploadNotFound if there is none."""
        self._path(key)
        key_segments(upload_id)
        folder = self.root / UPLOADS / upload_id
        try:
            info = json.loads((folder / UPLOAD_INFO).read_bytes())
        except FileNotFoundError:
            raise UploadNotFound() from None
        if info["key"] != key:
            raise UploadNotFound()
        return _Upload(folder, info["part_size"])

    def start_upload(self, key: str, expires: int, part_size: int | None = None) -> str:
        self._path(key)
        self._hashes.forget_expired()
        upload_id = f"{expires}-{new_id()}"
        folder = self.root / UPLOADS / upload_id
        folder.mkdir(parents=True)
        os.close(os.open(folder / UPLOAD_DATA, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        info = json.dumps({"key": key, "part_size": part_size}).encode()
        self._write(folder / UPLOAD_INFO, io.BytesIO(info))  # its folder fsync covers the data
        return upload_id

    def presign_part(
        self, key: str, upload_id: str, part_number: int, size: int, expires_in: int
    ) -> str:
        self._path(key)
        return self._signer.sign_part(key, upload_id, part_number, size, expires_in)

    def upload_part(self, key: str, upload_id: str, part_number: int, content: Readable) -> int:
        """Written in its place in the upload's file and fsynced, then marked stored: a part
        sent again, or failing, is unmarked first, so a marker always stands for the bytes in
        place. Hashed on the way when the parts before it were, in this process."""
        upload = self._open_upload(key, upload_id)
        offset = part_offset(part_number, upload.part_size)
        with (
            self._full_disk(),
            _locked_data(upload.folder, exclusive=False) as data,
            _Marker(upload.folder / str(part_number)) as marker,
        ):
            marker.clear()
            hashing = self._hashes.resume(upload_id, part_number)
            digest = None if hashing is None else HashBeside(hashing.digest)
            size = 0
            with Writeback(data) as writeback:
                while chunk := content.read(CHUNK_SIZE):
                    check_part_size(size + len(chunk), upload.part_size)
                    _write_at(data, chunk, offset + size)
                    size += len(chunk)
                    writeback.wrote(len(chunk))
                    if digest is not None:
                        digest.update(chunk)
            if digest is not None:
                digest.wait()
            os.fsync(data)
            token = marker.mark(size)
            if hashing is not None:
                self._hashes.extend(upload_id, hashing, token)
        return size

    def list_parts(self, key: str, upload_id: str) -> dict[int, int]:
        upload = self._open_upload(key, upload_id)
        return {number: size for number, (size, _) in _marked_parts(upload.folder).items()}

    def complete_upload(self, key: str, upload_id: str, part_numbers: list[int]) -> str:
        """The parts are in place already: the upload's file is linked into the key. A hard
        link, unlike a rename, fails on a key that holds bytes: of two completions, one
        links, the other gets KeyTaken. Its sha256 is the one taken as the first parts came
        in, and read back from the file for those after them."""
        upload = self._open_upload(key, upload_id)
        path = self._path(key)
        with _locked_data(upload.folder, exclusive=True) as data:
            marked = _marked_parts(upload.folder)
            size = joined_size(
                part_numbers, {n: part[0] for n, part in marked.items()}, upload.part_size
            )
            if path.exists():
                raise KeyTaken()
            if os.fstat(data).st_size > size:  # a part past the last was sent
                os.ftruncate(data, size)
                os.fsync(data)
            parts = [marked[number] for number in part_numbers]
            digest, hashed = self._hashes.taken(upload_id, [token for _, token in parts])
            start = sum(part_size for part_size, _ in parts[:hashed])
            for chunk in _read_range(data, start, size):
                digest.update(chunk)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(upload.folder / UPLOAD_DATA, path)
            except FileExistsError:
                raise KeyTaken() from None
            _fsync_dir(path.parent)
            shutil.rmtree(upload.folder, ignore_errors=True)
        self._hashes.forget(upload_id)
        return digest.hexdigest()

    def abort_upload(self, key: str, upload_id: str) -> None:
        """Waits for parts being written, which then find the upload gone."""
        with contextlib.suppress(UploadNotFound):
            upload = self._open_upload(key, upload_id)
            with _locked_data(upload.folder, exclusive=True):
                shutil.rmtree(upload.folder, ignore_errors=True)
        self._hashes.forget(upload_id)

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
    with Writeback(out.fileno()) as writeback:
        while chunk := stream.read(CHUNK_SIZE):
            out.write(chunk)
            size += len(chunk)
            writeback.wrote(len(chunk))
    return size


@dataclass
class _Hashed:
    """The sha256 of an upload's first parts, as this process wrote them one after another,
    and the marker token of each (`_Marker`): a part sent again since, here or in another
    process, has another token."""

    digest: _Hash
    tokens: list[str]


@dataclass(frozen=True)
class _Hashing:
    """The hash of part `part_number` being written: `digest` goes on from `after`, the hash
    of the parts before it (None for part 1)."""

    part_number: int
    after: _Hashed | None
    digest: _Hash


class _RunningHashes:
    """The sha256 of each open upload's first parts, taken as they were written, so that the
    common case, parts sent one after another to one process, never reads the file back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hashed: dict[str, _Hashed] = {}

    def resume(self, upload_id: str, part_number: int) -> _Hashing | None:
        """How to hash part `part_number`: anew for part 1, else on from the hash of the parts
        before it; None when those were not all hashed here."""
        if part_number == 1:
            return _Hashing(1, None, hashlib.sha256())
        with self._lock:
            hashed = self._hashed.get(upload_id)
            if hashed is None or len(hashed.tokens) != part_number - 1:
                return None
            return _Hashing(part_number, hashed, hashed.digest.copy())

    def extend(self, upload_id: str, hashing: _Hashing, token: str) -> None:
        """Keep the hash of a part written whole, unless the parts before it changed or were
        hashed on meanwhile: then they no longer follow one another here."""
        with self._lock:
            after, parts_before = hashing.after, hashing.part_number - 1
            if after is None:
                self._hashed[upload_id] = _Hashed(hashing.digest, [token])
            elif self._hashed.get(upload_id) is after and len(after.tokens) == parts_before:
                after.digest = hashing.digest
                after.tokens.append(token)

    def taken(self, upload_id: str, tokens: list[str]) -> tuple[_Hash, int]:
        """The hash of the longest run of first parts hashed here that still hold the bytes
        hashed, and how many parts that is (none: a new hash)."""
        with self._lock:
            hashed = self._hashed.get(upload_id)
            if hashed is None or hashed.tokens != tokens[: len(hashed.tokens)]:
                return hashlib.sha256(), 0
            return hashed.digest.copy(), len(hashed.tokens)

    def forget(self, upload_id: str) -> None:
        with self._lock:
            self._hashed.pop(upload_id, None)

    def forget_expired(self) -> None:
        """Drop the hashes of uploads whose ticket expired (completed in another process,
        say): an upload id starts with its expiry."""
        now = time.time()
        with self._lock:
            for upload_id in list(self._hashed):
                if int(upload_id.partition("-")[0]) < now:
                    del self._hashed[upload_id]


class _Marker:
    """The marker of a part: `{"size", "token"}` once its bytes are in place and fsynced,
    empty while they are written. Locked while open, so two writers of one part take turns
    and the marker stands for the last one's bytes; a fresh token per write tells a hash
    taken of a part's bytes from bytes sent again since."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._created = False
        self._fd = -1

    def __enter__(self) -> _Marker:
        try:
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            self._created = True
        except FileExistsError:
            self._fd = os.open(self._path, os.O_RDWR)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(self._fd)
            raise
        return self

    def __exit__(self, *_: object) -> None:
        os.close(self._fd)

    def clear(self) -> None:
        """Unmark the part before its bytes are overwritten, durably."""
        if os.fstat(self._fd).st_size:
            os.ftruncate(self._fd, 0)
            os.fsync(self._fd)

    def mark(self, size: int) -> str:
        """Mark the part stored, durably; its new token."""
        token = new_id()
        _write_at(self._fd, json.dumps({"size": size, "token": token}).encode(), 0)
        os.fsync(self._fd)
        if self._created:
            _fsync_dir(self._path.parent)
        return token


def _marked_parts(folder: Path) -> dict[int, tuple[int, str]]:
    """The size and token of each part marked stored, by number; a marker being written, or
    cut short by a crash, is no part."""
    parts = {}
    for marker in folder.iterdir():
        if marker.name.isdigit():
            with contextlib.suppress(FileNotFoundError, ValueError):
                mark = json.loads(marker.read_bytes())
                parts[int(marker.name)] = (mark["size"], mark["token"])
    return parts


@contextlib.contextmanager
def _locked_data(folder: Path, *, exclusive: bool) -> Iterator[int]:
    """The open upload's file, locked: shared by part writers, exclusive to complete or
    abort it. UploadNotFound when it was completed or aborted before the lock was had, so
    no part is written into a file once it is a key."""
    path = folder / UPLOAD_DATA
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        raise UploadNotFound() from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            still_open = path.stat().st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            still_open = False
        if not still_open:
            raise UploadNotFound()
        yield fd
    finally:
        os.close(fd)


def _write_at(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _read_range(fd: int, start: int, end: int) -> Iterator[bytes]:
    while start < end and (chunk := os.pread(fd, min(CHUNK_SIZE, end - start), start)):
        yield chunk
        start += len(chunk)


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
