"""`Writeback`: a flush that fails is never lost, since the kernel reports a failed write to
one fsync of a file only; a pipe, which cannot be flushed, stands for the failing disk."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator

import pytest

from app.storage.writeback import WRITEBACK_BYTES, Writeback


@pytest.fixture
def unflushable() -> Iterator[int]:
    read, write = os.pipe()
    yield write
    os.close(read)
    os.close(write)


def test_nothing_is_flushed_before_the_threshold(unflushable: int) -> None:
    with Writeback(unflushable) as writeback:
        writeback.wrote(WRITEBACK_BYTES - 1)


def test_a_failed_flush_is_raised_at_the_end_of_the_block(unflushable: int) -> None:
    with pytest.raises(OSError) as raised, Writeback(unflushable) as writeback:
        writeback.wrote(WRITEBACK_BYTES)
    assert raised.value.errno == errno.EINVAL


def test_a_failed_flush_is_raised_by_the_next_flush_it_would_start(unflushable: int) -> None:
    writeback = Writeback(unflushable)
    with pytest.raises(OSError) as raised:
        writeback.wrote(WRITEBACK_BYTES)
        while True:
            writeback.wrote(WRITEBACK_BYTES)
    assert raised.value.errno == errno.EINVAL


def test_a_block_that_fails_keeps_its_own_error(unflushable: int) -> None:
    with pytest.raises(ValueError, match="the write's own"), Writeback(unflushable) as writeback:
        writeback.wrote(WRITEBACK_BYTES)
        raise ValueError("the write's own")
