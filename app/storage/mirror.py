"""Mirror mode for file bytes: each upload is stored on the primary, then streamed from the
primary to the mirror; reads come from the primary only. A failed mirror write is logged and
journaled, never raised, like the mirrored repositories (`app.repositories.mirror`)."""

from __future__ import annotations

from collections.abc import Iterator

from app.mirroring import Mirrored
from app.storage.base import FileStorage, Readable, TempFile


class ChunkReader:
    """`read(size)` over an iterator of chunks, so one storage's download feeds another's
    upload without holding the whole file."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = b""

    def read(self, size: int = -1, /) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data


class MirroredStorage(Mirrored[FileStorage], FileStorage):
    kind = "bytes"

    def upload_file(self, key: str, content: Readable | bytes) -> int:
        size = self.primary.upload_file(key, content)
        self._mirror(
            "upload",
            key,
            lambda storage: storage.upload_file(key, ChunkReader(self.primary.download_file(key))),
        )
        return size

    def download_file(self, key: str) -> Iterator[bytes]:
        return self.primary.download_file(key)

    def start_upload(self, key: str, expires: int, part_size: int | None = None) -> str:
        """Direct uploads go to the primary; the mirror gets the bytes once complete."""
        return self.primary.start_upload(key, expires, part_size)

    def presign_part(
        self, key: str, upload_id: str, part_number: int, size: int, expires_in: int
    ) -> str:
        return self.primary.presign_part(key, upload_id, part_number, size, expires_in)

    def upload_part(self, key: str, upload_id: str, part_number: int, content: Readable) -> int:
        return self.primary.upload_part(key, upload_id, part_number, content)

    def list_parts(self, key: str, upload_id: str) -> dict[int, int]:
        return self.primary.list_parts(key, upload_id)

    def complete_upload(self, key: str, upload_id: str, part_numbers: list[int]) -> str | None:
        sha256 = self.primary.complete_upload(key, upload_id, part_numbers)
        self._mirror(
            "upload",
            key,
            lambda storage: storage.upload_file(key, ChunkReader(self.primary.download_file(key))),
        )
        return sha256

    def abort_upload(self, key: str, upload_id: str) -> None:
        self.primary.abort_upload(key, upload_id)

    def delete_file(self, key: str) -> None:
        self.primary.delete_file(key)
        self._mirror("delete", key, lambda storage: storage.delete_file(key))

    def generate_presigned_url(
        self, key: str, expires_in: int = 3600, filename: str | None = None
    ) -> str:
        return self.primary.generate_presigned_url(key, expires_in, filename)

    def exists(self, key: str) -> bool:
        return self.primary.exists(key)

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        return self.primary.list_keys(prefix)

    def database_ids(self) -> frozenset[str]:
        return self.primary.database_ids()

    def bind_database(self, database_id: str) -> None:
        self.primary.bind_database(database_id)

    def temp_files(self) -> list[TempFile]:
        return self.primary.temp_files() + self.mirror.temp_files()
