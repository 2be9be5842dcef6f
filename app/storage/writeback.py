"""Large files written to disk with the disk already at work on them."""

from __future__ import annotations

import os
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor

WRITEBACK_BYTES = 16 * 1024 * 1024
"""A file written this far past its last flush has the disk start on what it holds."""
_FLUSHES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hangar-writeback")


class Writeback:
    """The disk writes a large file's bytes while more are still coming: past every
    `WRITEBACK_BYTES`, an fdatasync on a thread of `_FLUSHES` (one at a time per file), so the
    fsync that ends the write waits for the last stretch, not for the whole file.

    The kernel reports a failed write once per open file, so a flush's error would not reach
    that last fsync: it is raised by the next `wrote` or by the block's end. A block that
    fails anyway ends with its own error, once no flush of its file is running."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._unflushed = 0
        self._flushing: Future[None] | None = None

    def __enter__(self) -> Writeback:
        return self

    def wrote(self, size: int) -> None:
        self._unflushed += size
        if self._unflushed < WRITEBACK_BYTES:
            return
        if self._flushing is not None:
            if not self._flushing.done():
                return
            self._flushing.result()
        self._unflushed = 0
        self._flushing = _FLUSHES.submit(os.fdatasync, self._fd)

    def __exit__(self, error_type: type[BaseException] | None, *_: object) -> None:
        flushing, self._flushing = self._flushing, None
        if flushing is None:
            return
        if error_type is None:
            flushing.result()
        else:
            futures.wait([flushing])
