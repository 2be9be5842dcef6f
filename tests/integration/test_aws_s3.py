"""The S3 backend against a real endpoint: multipart streaming, aborted uploads, links that
S3 itself serves, and start-up checks."""

from __future__ import annotations

import hashlib
import io
import os

import httpx
import pytest
from boto3.s3.transfer import TransferConfig

from app.backends import open_storage
from app.core.aws import s3_client
from app.core.headers import content_disposition
from app.errors import BackendUnavailable
from app.storage.s3 import MIB, S3Storage
from tests.conftest import SettingsFactory

SMALL_PARTS = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)


class BrokenStream(io.RawIOBase):
    """A client that disconnects after sending `good` bytes."""

    def __init__(self, good: int) -> None:
        self.left = good

    def read(self, size: int = -1, /) -> bytes:
        if self.left <= 0:
            raise ConnectionResetError("client went away")
        n = self.left if size < 0 else min(size, self.left)
        self.left -= n
        return os.urandom(n)


@pytest.fixture
def storage(make_settings: SettingsFactory) -> S3Storage:
    settings = make_settings(storage="s3")
    return S3Storage(s3_client(settings), settings.S3_BUCKET, create=True, transfer=SMALL_PARTS)


def operations(storage: S3Storage) -> list[str]:
    """Every S3 operation the storage sends from now on, observed with a botocore event hook."""
    seen: list[str] = []
    storage.client.meta.events.register(
        "before-call.s3.*", lambda model, **_: seen.append(model.name)
    )
    return seen


def test_a_multipart_upload_round_trips_exactly(storage: S3Storage) -> None:
    payload = os.urandom(11 * MIB + 123)
    seen = operations(storage)
    assert storage.upload_file("p/big", io.BytesIO(payload)) == len(payload)
    assert seen.count("UploadPart") == 3
    assert "CompleteMultipartUpload" in seen
    downloaded = hashlib.sha256(b"".join(storage.download_file("p/big"))).hexdigest()
    assert downloaded == hashlib.sha256(payload).hexdigest()


@pytest.mark.parametrize("good", [1024, 7 * MIB], ids=["single-part", "multipart"])
def test_a_stream_that_breaks_leaves_no_object_and_no_parts(storage: S3Storage, good: int) -> None:
    with pytest.raises(ConnectionResetError):
        storage.upload_file("p/broken", BrokenStream(good))  # type: ignore[arg-type]
    assert not storage.exists("p/broken")
    assert list(storage.list_keys()) == []
    pending = storage.client.list_multipart_uploads(Bucket=storage.bucket)
    assert pending.get("Uploads", []) == []


def test_a_presigned_url_is_served_by_s3_with_the_download_name(storage: S3Storage) -> None:
    payload = os.urandom(300_000)
    storage.upload_file("p/doc", payload)
    name = 'résumé "v2".pdf'
    url = storage.generate_presigned_url("p/doc", expires_in=60, filename=name)
    response = httpx.get(url)
    assert response.status_code == 200
    assert response.content == payload
    assert response.headers["content-disposition"] == content_disposition(name)


def test_a_link_for_a_week_is_accepted(storage: S3Storage) -> None:
    storage.upload_file("p/doc", b"x")
    assert httpx.get(storage.generate_presigned_url("p/doc", 7 * 24 * 3600)).content == b"x"


def test_start_up_without_auto_create_names_the_missing_bucket(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(storage="s3", AWS_AUTO_CREATE=False)
    with pytest.raises(BackendUnavailable, match=settings.S3_BUCKET):
        open_storage(settings)


def test_auto_create_makes_the_bucket_once(make_settings: SettingsFactory) -> None:
    settings = make_settings(storage="s3")
    open_storage(settings).ping()
    open_storage(settings).ping()
    open_storage(settings.model_copy(update={"AWS_AUTO_CREATE": False})).ping()
