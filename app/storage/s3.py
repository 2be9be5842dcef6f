"""Files in an S3 bucket (or MinIO, LocalStack, moto): streamed both ways, links signed by S3."""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, ClassVar

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from app.core.aws import all_reachable
from app.core.headers import content_disposition
from app.errors import BackendUnavailable, BlobNotFound
from app.storage.base import (
    CHUNK_SIZE,
    DATABASE_MARKER,
    FileStorage,
    KeyTaken,
    Readable,
    UploadNotFound,
    as_stream,
    check_expiry,
    key_segments,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import GetObjectRequestTypeDef

    from app.core.config import Settings

MIB = 1024 * 1024
DEFAULT_TRANSFER = TransferConfig(
    multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4
)
# s3transfer reads a stream without seek ahead into up to this many parts (default 10);
# 4 matches the parts in flight, keeping an upload's buffers at 4 x 8 MiB (an attribute:
# TransferConfig's constructor does not take it).
DEFAULT_TRANSFER.max_in_memory_upload_chunks = 4
MISSING = {"404", "NoSuchKey", "NotFound"}
NO_UPLOAD = {"NoSuchUpload"}
TAKEN = {"PreconditionFailed", "412", "ConditionalRequestConflict"}
ABANDONED_UPLOAD_RULE = "hangar-abort-incomplete-uploads"

LOCATION_SETTING = "S3_BUCKET"
ONE_PROCESS = False


class _CountingReader(io.RawIOBase):
    """Counts what the uploader reads; not seekable, so boto3 streams instead of seeking."""

    def __init__(self, stream: Readable) -> None:
        super().__init__()
        self._stream = stream
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._stream.read(size)
        self.size += len(chunk)
        return chunk


def _code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


def _missing(error: ClientError) -> bool:
    return _code(error) in MISSING


class S3Storage(FileStorage):
    network_bound: ClassVar[bool] = True

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        *,
        create: bool,
        transfer: TransferConfig = DEFAULT_TRANSFER,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self._transfer = transfer
        self.ensure_bucket(create)

    def ensure_bucket(self, create: bool) -> None:
        """Create the bucket when asked to; otherwise fail fast naming it."""
        try:
            try:
                self.client.head_bucket(Bucket=self.bucket)
                return
            except ClientError as error:
                if not _missing(error):
                    raise
            if not create:
                raise BackendUnavailable(
                    f"Missing S3 bucket: {self.bucket}. Run `hangar init` or set "
                    "AWS_AUTO_CREATE=true to create it."
                )
            self._create_bucket()
        except (BotoCoreError, ClientError) as error:
            raise BackendUnavailable(f"Cannot reach S3 bucket {self.bucket}: {error}") from error

    def _create_bucket(self) -> None:
        """us-east-1 refuses an explicit location; every other region requires one."""
        region = self.client.meta.region_name
        try:
            if region == "us-east-1":
                self.client.create_bucket(Bucket=self.bucket)
            else:
                self.client.create_bucket(
                    Bucket=self.bucket,
                    CreateBucketConfiguration={"LocationConstraint": region},  # type: ignore[typeddict-item]
                )
        except self.client.exceptions.BucketAlreadyOwnedByYou:
            return
        self.client.get_waiter("bucket_exists").wait(Bucket=self.bucket)

    def upload_file(self, key: str, content: Readable | bytes) -> int:
        """Multipart above the transfer threshold; a failed read aborts the upload, so no
        object (and no orphan part) is left."""
        key_segments(key)
        reader = _CountingReader(as_stream(content))
        # The stubs ask for typing.IO, which no io class is nominally; boto3 only calls read().
        self.client.upload_fileobj(reader, self.bucket, key, Config=self._transfer)  # type: ignore[arg-type]
        return reader.size

    def download_file(self, key: str) -> Iterator[bytes]:
        key_segments(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            raise BlobNotFound() from None
        body = response["Body"]
        return _read_chunks(body.iter_chunks(CHUNK_SIZE), body.close)

    def delete_file(self, key: str) -> None:
        key_segments(key)
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def generate_presigned_url(
        self, key: str, expires_in: int = 3600, filename: str | None = None
    ) -> str:
        key_segments(key)
        check_expiry(expires_in)
        params: GetObjectRequestTypeDef = {"Bucket": self.bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        return self.client.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=expires_in, HttpMethod="GET"
        )

    def start_upload(self, key: str, expires: int, part_size: int | None = None) -> str:
        """An S3 multipart upload (S3 places the parts itself); abandoned ones are removed by
        the bucket's lifecycle rule (`set_upload_lifecycle`), since S3 has no expiry of its
        own for them."""
        key_segments(key)
        return self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]

    def presign_part(
        self, key: str, upload_id: str, part_number: int, size: int, expires_in: int
    ) -> str:
        """Content-Length is signed: S3 refuses a part of another size."""
        key_segments(key)
        check_expiry(expires_in)
        params = {
            "Bucket": self.bucket,
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": part_number,
            "ContentLength": size,
        }
        return self.client.generate_presigned_url(
            "upload_part", Params=params, ExpiresIn=expires_in, HttpMethod="PUT"
        )

    def upload_part(self, key: str, upload_id: str, part_number: int, content: Readable) -> int:
        key_segments(key)
        data = _read_all(content)
        with _upload_errors():
            self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=part_number, Body=data
            )
        return len(data)

    def list_parts(self, key: str, upload_id: str) -> dict[int, int]:
        key_segments(key)
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=key, UploadId=upload_id
        )
        with _upload_errors():
            return {
                part["PartNumber"]: part["Size"] for page in pages for part in page.get("Parts", [])
            }

    def complete_upload(self, key: str, upload_id: str, part_numbers: list[int]) -> None:
        """`If-None-Match: *`: S3 completes only into a key that holds nothing."""
        key_segments(key)
        pages = self.client.get_paginator("list_parts").paginate(
            Bucket=self.bucket, Key=key, UploadId=upload_id
        )
        with _upload_errors():
            etags = {part["PartNumber"]: part["ETag"] for page in pages for part in page["Parts"]}
            if not set(part_numbers) <= etags.keys():
                raise UploadNotFound("A part of this upload is missing")
            self.client.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": n, "ETag": etags[n]} for n in part_numbers]
                },
                IfNoneMatch="*",
            )

    def abort_upload(self, key: str, upload_id: str) -> None:
        key_segments(key)
        with contextlib.suppress(UploadNotFound), _upload_errors():
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def set_upload_lifecycle(self, days: int) -> None:
        """Have S3 remove multipart uploads left open `days` after they began (the bucket's
        other lifecycle rules are kept)."""
        try:
            rules = self.client.get_bucket_lifecycle_configuration(Bucket=self.bucket)["Rules"]
        except ClientError as error:
            if _code(error) != "NoSuchLifecycleConfiguration":
                raise
            rules = []
        rules = [rule for rule in rules if rule.get("ID") != ABANDONED_UPLOAD_RULE]
        rules.append(
            {
                "ID": ABANDONED_UPLOAD_RULE,
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days},
            }
        )
        self.client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket,
            LifecycleConfiguration={"Rules": rules},
        )

    def exists(self, key: str) -> bool:
        key_segments(key)
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if _missing(error):
                return False
            raise
        return True

    def _objects(self, prefix: str) -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        for page in pages:
            for entry in page.get("Contents", []):
                yield entry["Key"]

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        return (key for key in self._objects(prefix) if not key.startswith(DATABASE_MARKER))

    def database_ids(self) -> frozenset[str]:
        return frozenset(
            key.removeprefix(DATABASE_MARKER) for key in self._objects(DATABASE_MARKER)
        )

    def bind_database(self, database_id: str) -> None:
        key_segments(database_id)
        self.client.put_object(Bucket=self.bucket, Key=f"{DATABASE_MARKER}{database_id}", Body=b"")

    def ping(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)


all_reachable("S3", S3Storage)


@contextlib.contextmanager
def _upload_errors() -> Iterator[None]:
    """S3's answers about an upload id as the storage contract's errors."""
    try:
        yield
    except ClientError as error:
        if _code(error) in NO_UPLOAD:
            raise UploadNotFound() from None
        if _code(error) in TAKEN:
            raise KeyTaken() from None
        raise


def _read_all(stream: Readable) -> bytes:
    """A part, read whole: boto3 needs its length before it sends it."""
    buffer = io.BytesIO()
    while chunk := stream.read(CHUNK_SIZE):
        buffer.write(chunk)
    return buffer.getvalue()


def _read_chunks(chunks: Iterator[bytes], close: Callable[[], None]) -> Iterator[bytes]:
    """Release the HTTP connection even when the reader stops early."""
    try:
        yield from chunks
    finally:
        close()


def open_storage(settings: Settings) -> S3Storage:
    """The settings' bucket; created first when AWS_AUTO_CREATE is on."""
    from app.core.aws import s3_client

    return S3Storage(s3_client(settings), settings.S3_BUCKET, create=settings.AWS_AUTO_CREATE)


def upload_lifecycle_days(settings: Settings) -> int:
    """The days after which S3 aborts a multipart upload: past every ticket's lifetime."""
    return math.ceil(settings.UPLOAD_TICKET_SECONDS / 86400) + 1


def locate(settings: Settings) -> tuple[str, ...]:
    endpoint = settings.S3_ENDPOINT_URL or settings.AWS_ENDPOINT_URL or ""
    return (endpoint, settings.S3_BUCKET)
