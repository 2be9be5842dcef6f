"""sha256 taken beside the work on the bytes it hashes."""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hashlib import _Hash

_HASHING = ThreadPoolExecutor(thread_name_prefix="hangar-hash")
"""Where uploads' chunks are hashed: hashlib lets go of the GIL, so a chunk is hashed while
storage writes it and the next one is read."""
HASH_INLINE_BYTES = 64 * 1024
"""A smaller chunk is hashed in the caller's thread: a hand-off would cost more."""


class HashBeside:
    """A digest fed chunk by chunk, each hashed on a thread of `_HASHING` while the caller
    goes on with it, one at a time and in order."""

    def __init__(self, digest: _Hash | None = None) -> None:
        self.digest = hashlib.sha256() if digest is None else digest
        self._hashing: Future[None] | None = None

    def update(self, chunk: bytes | memoryview) -> None:
        self.wait()
        if len(chunk) < HASH_INLINE_BYTES:
            self.digest.update(chunk)
        else:
            self._hashing = _HASHING.submit(self.digest.update, chunk)

    def wait(self) -> None:
        """Until every chunk given is in the digest."""
        if self._hashing is not None:
            self._hashing.result()
            self._hashing = None

    def hexdigest(self) -> str:
        self.wait()
        return self.digest.hexdigest()
