"""One storage contract, run unchanged over every storage backend."""

from __future__ import annotations

import hashlib
import io
import os
import time
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from app.backends import Backends, open_repositories, open_storage, storage_module
from app.errors import BlobNotFound, StorageKeyRejected
from app.main import create_app
from app.storage.base import MAX_PRESIGN_SECONDS, FileStorage, KeyTaken, UploadNotFound
from app.storage.writeback import WRITEBACK_BYTES
from tests.conftest import STORAGES, TEST_BASE_URL, SettingsFactory


class FailingStream(io.RawIOBase):
    """A client that disconnects after sending `good` bytes."""

    def __init__(self, good: int) -> None:
        self.left = good

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            raise ConnectionResetError("client went away")
        n = self.left if size < 0 else min(size, self.left)
        self.left -= n
        return b"x" * n


def read_all(storage: FileStorage, key: str) -> bytes:
    return b"".join(storage.download_file(key))


@pytest.fixture(params=STORAGES)
def two_workers(
    request: pytest.FixtureRequest, make_settings: SettingsFactory
) -> tuple[FileStorage, FileStorage]:
    """One storage as two worker processes open it; one that lives in one process (memory)
    is both."""
    settings = make_settings(storage=request.param)
    first = open_storage(settings)
    return first, first if storage_module(request.param).ONE_PROCESS else open_storage(settings)


def test_bytes_and_streams_round_trip(storage: FileStorage) -> None:
    assert storage.upload_file("p/a", b"hello") == 5
    assert read_all(storage, "p/a") == b"hello"
    payload = os.urandom(3 * 1024 * 1024 + 17)
    assert storage.upload_file("p/b", io.BytesIO(payload)) == len(payload)
    assert hashlib.sha256(read_all(storage, "p/b")).digest() == hashlib.sha256(payload).digest()


def test_files_and_parts_written_past_several_flushes_are_whole(storage: FileStorage) -> None:
    """Local storage has the disk write a file while it is still coming (`Writeback`): bytes
    written while a flush runs, and after it, are all there."""
    payload = os.urandom(2 * WRITEBACK_BYTES + WRITEBACK_BYTES // 2 + 3)
    assert storage.upload_file("p/whole", io.BytesIO(payload)) == len(payload)
    assert hashlib.sha256(read_all(storage, "p/whole")).digest() == hashlib.sha256(payload).digest()
    upload_id = storage.start_upload("p/parts", int(time.time()) + 60, len(payload))
    assert storage.upload_part("p/parts", upload_id, 1, io.BytesIO(payload)) == len(payload)
    storage.complete_upload("p/parts", upload_id, [1])
    assert hashlib.sha256(read_all(storage, "p/parts")).digest() == hashlib.sha256(payload).digest()


def test_downloads_stream_in_chunks(storage: FileStorage) -> None:
    storage.upload_file("p/big", io.BytesIO(b"z" * (5 * 1024 * 1024)))
    chunks = list(storage.download_file("p/big"))
    assert len(chunks) > 1
    assert max(len(c) for c in chunks) <= 8 * 1024 * 1024


def test_an_empty_file_is_a_file(storage: FileStorage) -> None:
    assert storage.upload_file("p/empty", b"") == 0
    assert storage.exists("p/empty")
    assert read_all(storage, "p/empty") == b""


def test_uploading_again_replaces_the_bytes(storage: FileStorage) -> None:
    storage.upload_file("p/a", b"first")
    storage.upload_file("p/a", b"second")
    assert read_all(storage, "p/a") == b"second"


def test_a_missing_key_is_blob_not_found(storage: FileStorage) -> None:
    assert not storage.exists("p/missing")
    with pytest.raises(BlobNotFound):
        read_all(storage, "p/missing")


def test_delete_removes_and_is_idempotent(storage: FileStorage) -> None:
    storage.upload_file("p/a", b"x")
    storage.delete_file("p/a")
    storage.delete_file("p/a")
    assert not storage.exists("p/a")


def test_a_failed_upload_leaves_nothing_behind(storage: FileStorage) -> None:
    storage.upload_file("p/a", b"old")
    with pytest.raises(ConnectionResetError):
        storage.upload_file("p/b", FailingStream(good=2 * 1024 * 1024))  # type: ignore[arg-type]
    with pytest.raises(ConnectionResetError):
        storage.upload_file("p/a", FailingStream(good=10))  # type: ignore[arg-type]
    assert list(storage.list_keys()) == ["p/a"]
    assert read_all(storage, "p/a") == b"old"


@pytest.mark.parametrize(
    "key", ["", "../escape", "/absolute", "a/../b", "a//b", "a\x00b", "a\\b", ".hidden", "p/.."]
)
def test_keys_that_could_escape_are_refused(storage: FileStorage, key: str) -> None:
    with pytest.raises(StorageKeyRejected):
        storage.upload_file(key, b"x")
    with pytest.raises(StorageKeyRejected):
        storage.download_file(key)


def test_keys_are_listed_by_prefix(storage: FileStorage) -> None:
    for key in ("p1/a", "p1/b", "p2/c"):
        storage.upload_file(key, b"x")
    assert sorted(storage.list_keys("p1/")) == ["p1/a", "p1/b"]
    assert sorted(storage.list_keys()) == ["p1/a", "p1/b", "p2/c"]


def test_ping_answers(storage: FileStorage) -> None:
    storage.ping()


def test_presigned_urls_download_the_exact_bytes_without_a_token(
    storage: FileStorage, make_settings: SettingsFactory
) -> None:
    payload = os.urandom(70_000)
    storage.upload_file("p/doc", payload)
    url = storage.generate_presigned_url("p/doc", expires_in=60, filename="report.pdf")
    if url.startswith(TEST_BASE_URL):
        # Local and memory storage sign links to Hangar's own download route.
        settings = make_settings()
        repositories = open_repositories(settings)
        with TestClient(create_app(settings, Backends.assemble(repositories, storage))) as client:
            response = client.get(urlsplit(url).path + "?" + urlsplit(url).query)
        repositories.close()
    else:
        response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == payload
    assert "report.pdf" in response.headers["content-disposition"]


@pytest.mark.parametrize("expires_in", [0, -5, MAX_PRESIGN_SECONDS + 1])
def test_presigned_expiry_is_bounded_to_seven_days(storage: FileStorage, expires_in: int) -> None:
    storage.upload_file("p/doc", b"x")
    with pytest.raises(ValueError, match="expires_in"):
        storage.generate_presigned_url("p/doc", expires_in=expires_in)


def test_a_new_storage_is_bound_to_no_database(storage: FileStorage) -> None:
    assert storage.database_ids() == frozenset()


def test_database_bindings_are_kept_apart_from_the_keys(storage: FileStorage) -> None:
    storage.upload_file("p/a", b"x")
    storage.bind_database("0123456789abcdef0123456789abcdef")
    storage.bind_database("fedcba9876543210fedcba9876543210")
    storage.bind_database("fedcba9876543210fedcba9876543210")
    assert storage.database_ids() == {
        "0123456789abcdef0123456789abcdef",
        "fedcba9876543210fedcba9876543210",
    }
    assert list(storage.list_keys()) == ["p/a"]


PART = 5 * 1024 * 1024
"""The smallest part but the last that S3 takes."""


def test_a_direct_upload_joins_its_parts_in_order_into_the_key(storage: FileStorage) -> None:
    upload_id = storage.start_upload("p/big", int(time.time()) + 60, PART)
    first, second = os.urandom(PART), os.urandom(1000)
    assert storage.upload_part("p/big", upload_id, 2, io.BytesIO(second)) == 1000
    storage.upload_part("p/big", upload_id, 1, io.BytesIO(b"wrong"))
    storage.upload_part("p/big", upload_id, 1, io.BytesIO(first))  # a retry replaces it
    assert storage.list_parts("p/big", upload_id) == {1: PART, 2: 1000}
    assert not storage.exists("p/big")
    storage.complete_upload("p/big", upload_id, [1, 2])
    assert read_all(storage, "p/big") == first + second
    assert list(storage.list_keys()) == ["p/big"]


@pytest.mark.parametrize("order", [[1, 2, 3], [2, 1, 3], [3, 2, 1]], ids=str)
def test_parts_in_any_order_complete_with_the_sha256_of_the_stored_bytes(
    storage: FileStorage, order: list[int]
) -> None:
    parts = [os.urandom(PART), os.urandom(PART), os.urandom(10)]
    upload_id = storage.start_upload("p/big", int(time.time()) + 60, PART)
    for number in order:
        storage.upload_part("p/big", upload_id, number, io.BytesIO(parts[number - 1]))
    sha256 = storage.complete_upload("p/big", upload_id, [1, 2, 3])
    data = b"".join(parts)
    assert read_all(storage, "p/big") == data
    assert sha256 in (None, hashlib.sha256(data).hexdigest())  # None: the caller reads it back


def test_a_part_sent_again_to_another_worker_is_what_completes(
    two_workers: tuple[FileStorage, FileStorage],
) -> None:
    storage, other_worker = two_workers
    first, wrong, second, last = (os.urandom(size) for size in (PART, PART, PART, 10))
    upload_id = storage.start_upload("p/big", int(time.time()) + 60, PART)
    for number, part in ((1, first), (2, wrong), (3, last)):
        storage.upload_part("p/big", upload_id, number, io.BytesIO(part))
    other_worker.upload_part("p/big", upload_id, 2, io.BytesIO(second))
    sha256 = storage.complete_upload("p/big", upload_id, [1, 2, 3])
    data = first + second + last
    assert read_all(storage, "p/big") == data
    assert sha256 in (None, hashlib.sha256(data).hexdigest())


def test_a_part_that_fails_half_way_is_not_stored_and_can_be_sent_again(
    storage: FileStorage,
) -> None:
    upload_id = storage.start_upload("p/a", int(time.time()) + 60, PART)
    with pytest.raises(ConnectionResetError):
        storage.upload_part("p/a", upload_id, 1, FailingStream(good=2 * 1024 * 1024))  # type: ignore[arg-type]
    assert storage.list_parts("p/a", upload_id) == {}
    data = os.urandom(1000)
    storage.upload_part("p/a", upload_id, 1, io.BytesIO(data))
    sha256 = storage.complete_upload("p/a", upload_id, [1])
    assert read_all(storage, "p/a") == data
    assert sha256 in (None, hashlib.sha256(data).hexdigest())


def test_an_upload_completes_once_and_never_over_bytes(storage: FileStorage) -> None:
    upload_id = storage.start_upload("p/a", int(time.time()) + 60)
    storage.upload_part("p/a", upload_id, 1, io.BytesIO(b"one"))
    storage.complete_upload("p/a", upload_id, [1])
    with pytest.raises((UploadNotFound, KeyTaken)):
        storage.complete_upload("p/a", upload_id, [1])
    with pytest.raises(UploadNotFound):
        storage.list_parts("p/a", upload_id)
    again = storage.start_upload("p/a", int(time.time()) + 60)
    storage.upload_part("p/a", again, 1, io.BytesIO(b"two"))
    with pytest.raises(KeyTaken):
        storage.complete_upload("p/a", again, [1])
    assert read_all(storage, "p/a") == b"one"


def test_an_empty_single_part_upload_is_an_empty_file(storage: FileStorage) -> None:
    upload_id = storage.start_upload("p/empty", int(time.time()) + 60)
    storage.upload_part("p/empty", upload_id, 1, io.BytesIO(b""))
    storage.complete_upload("p/empty", upload_id, [1])
    assert read_all(storage, "p/empty") == b""


def test_an_aborted_upload_leaves_no_parts(storage: FileStorage) -> None:
    upload_id = storage.start_upload("p/a", int(time.time()) + 60)
    storage.upload_part("p/a", upload_id, 1, io.BytesIO(b"part"))
    storage.abort_upload("p/a", upload_id)
    storage.abort_upload("p/a", upload_id)
    with pytest.raises(UploadNotFound):
        storage.list_parts("p/a", upload_id)
    with pytest.raises(UploadNotFound):
        storage.complete_upload("p/a", upload_id, [1])
    assert list(storage.list_keys()) == []
    assert storage.temp_files() == []


def test_an_unknown_upload_id_is_upload_not_found(storage: FileStorage) -> None:
    with pytest.raises(UploadNotFound):
        storage.list_parts("p/b", "0-unknown")
    with pytest.raises(UploadNotFound):
        storage.complete_upload("p/b", "0-unknown", [1])
