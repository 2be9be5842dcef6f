"""The memory benchmark: a server's peak RSS while one large file goes up and comes back down
over HTTP, next to a plain copy of the same bytes on the same disk; then the same file sent
as a direct upload (ticket, a PUT to each part's signed URL, complete), with the API server's
CPU time for each way up.

Streaming means the server's memory must not grow with the file: an upload's bytes go from
the socket to storage as they arrive, downloads go out chunk by chunk. Every throughput is of
one timed step that ends with the bytes fsynced (the copy's own fsync, the storage's), and
each step starts on a page cache that has just held as many bytes (`prime_page_cache`).
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from app.storage.hashing import HashBeside
from app.storage.signing import SIGNED_DOWNLOAD_PATH
from app.storage.writeback import Writeback
from benchmarks import workload as w
from benchmarks.http import API
from benchmarks.report import MemoryResult
from benchmarks.servers import peak_rss_kib, rss_kib, running_server, stack_env

Log = Callable[[str], None]
COPIES = 3
"""Plain copies timed; their median is the figure."""


class RssSampler:
    """The highest VmRSS seen while running, polled every few milliseconds; the kernel's own
    high-water mark (reset at start where /proc allows it) catches what polling misses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> RssSampler:
        with suppress(OSError):
            Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_kib = max(self.peak_kib, peak_rss_kib(self.pid))

    def _poll(self) -> None:
        while not self._stop.wait(0.005):
            self.peak_kib = max(self.peak_kib, rss_kib(self.pid))


def cpu_seconds(pid: int) -> float:
    """The user and system CPU time a process has used so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def prime_page_cache(folder: Path, size: int) -> None:
    """Write `size` bytes and remove them, so the next write of as many lands in memory the
    kernel has just used. A virtual machine whose host takes freed memory back makes the
    first write to each page several times slower than a write to a page in use, which
    would otherwise fall on whichever measurement came first; a long-running server's page
    cache is always in use."""
    scratch = folder / "prime.bin"
    chunk = bytes(w.MIB)
    with scratch.open("wb") as out:
        for _ in range(size // w.MIB + 1):
            out.write(chunk)
    scratch.unlink()


def _chunks(size: int, chunk: bytes) -> Iterator[bytes]:
    """`size` bytes of `chunk` repeated (its length divides `size` or exceeds what is left)."""
    for offset in range(0, size, len(chunk)):
        yield chunk[: size - offset]


def _call(
    port: int,
    method: str,
    path: str,
    body: bytes | Iterator[bytes] = b"",
    *,
    host: str = "127.0.0.1",
    **headers: str,
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(host, port, timeout=600)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _json(port: int, method: str, path: str, body: bytes, **headers: str) -> dict[str, Any]:
    status, data = _call(port, method, path, body, **headers)
    if status >= 300:
        raise RuntimeError(f"{method} {path}: {status} {data[:200]!r}")
    parsed: dict[str, Any] = json.loads(data)
    return parsed


def _upload(
    port: int, path: str, size: int, token: str, chunk: bytes
) -> tuple[dict[str, str], float]:
    """A multipart upload of `size` bytes of `chunk` repeated: the client holds one chunk."""
    boundary = "hangarbenchboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body() -> Iterator[bytes]:
        yield head
        yield from _chunks(size, chunk)
        yield tail

    started = time.perf_counter()
    status, data = _call(
        port,
        "POST",
        path,
        body(),
        **{
            "Authorization": f"Bearer {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Content-Length": str(len(head) + size + len(tail)),
        },
    )
    if status != 201:
        raise RuntimeError(f"upload: {status} {data[:200]!r}")
    record: dict[str, str] = json.loads(data)
    return record, time.perf_counter() - started


def _direct_upload(
    port: int, project: str, size: int, token: str, chunk: bytes
) -> tuple[dict[str, str], float]:
    """A direct upload of `size` bytes, timed from the ticket to the completion: each part
    PUT to its URL in turn (Hangar's own, or the object store's), without the token."""
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    uploads = f"{API}/projects/{project}/uploads"
    started = time.perf_counter()
    wanted = json.dumps({"filename": "big.bin", "size": size}).encode()
    ticket = _json(port, "POST", uploads, wanted, **auth)
    for part in ticket["parts"]:
        url = urlsplit(part["url"])
        own = url.path.startswith(SIGNED_DOWNLOAD_PATH)  # served by Hangar: to this server
        status, data = _call(
            port if own else url.port or 80,
            "PUT",
            f"{url.path}?{url.query}",
            _chunks(part["size"], chunk),
            host="127.0.0.1" if own else url.hostname or "127.0.0.1",
            **{"Content-Length": str(part["size"])},
        )
        if status >= 300:
            raise RuntimeError(f"PUT part {part['part_number']}: {status} {data[:200]!r}")
    record = _json(port, "POST", f"{uploads}/{ticket['upload_id']}/complete", b"", **auth)
    return record, time.perf_counter() - started


def _download(port: int, path: str, token: str) -> tuple[int, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    received = 0
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        while chunk := response.read(w.MIB):
            received += len(chunk)
    finally:
        connection.close()
    return received, time.perf_counter() - started


def copy_mb_s(folder: Path, size: int) -> float:
    """A plain copy of `size` bytes on the disk the storage uses, fsynced, as the storage
    fsyncs an upload: the median of `COPIES`, each from a primed page cache."""
    folder.mkdir(parents=True, exist_ok=True)
    source, target = folder / "copy-source.bin", folder / "copy-target.bin"
    with source.open("wb") as out:
        for piece in _chunks(size, os.urandom(w.MIB)):
            out.write(piece)
        os.fsync(out.fileno())  # its own writeback is not the copy's
    rates = []
    for _ in range(COPIES):
        prime_page_cache(folder, size)
        started = time.perf_counter()
        shutil.copyfile(source, target)
        with target.open("rb+") as copied:
            os.fsync(copied.fileno())
        rates.append(size / 1e6 / (time.perf_counter() - started))
        target.unlink()
    source.unlink()
    return statistics.median(rates)


CEILING_CLIENT = """
import os, socket, sys
port, size = int(sys.argv[1]), int(sys.argv[2])
chunk = os.urandom(1 << 20)
with socket.create_connection(("127.0.0.1", port)) as connection:
    for offset in range(0, size, len(chunk)):
        connection.sendall(chunk[: size - offset])
    connection.shutdown(socket.SHUT_WR)
    connection.recv(1)
"""
"""The ceiling's client: `size` bytes over loopback, as fast as one Python process sends."""


def ceiling_mb_s(folder: Path, size: int) -> float:
    """The most one Python process makes of an upload's bytes on this machine: sent by a
    client process over loopback, received into a few reused buffers, each written to a file
    on the storage's disk (flushed on the way as local storage does, `Writeback`) and hashed
    (sha256) on a thread of its own, then fsynced, with no HTTP and no multipart. The median
    of `COPIES`, each from a primed page cache. An upload through any Python server here is
    bounded by it, so `upload x ceiling` is the framework's share of the gap to the copy and
    `ceiling x copy` the machine's (the hash and the socket on two cores)."""
    rates = []
    for _ in range(COPIES):
        prime_page_cache(folder, size)
        rates.append(size / 1e6 / _received_and_hashed(folder / "ceiling.bin", size))
    return statistics.median(rates)


def _received_and_hashed(path: Path, size: int) -> float:
    """Seconds from the client's connection to the bytes fsynced and hashed. Two buffers take
    turns: one is received into and written while the other is hashed (`HashBeside`, which
    is done with a chunk before it takes the next)."""
    buffers = [bytearray(w.MIB), bytearray(w.MIB)]
    digest = HashBeside()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        client = subprocess.Popen(  # noqa: S603 (this interpreter, our own code)
            [sys.executable, "-c", CEILING_CLIENT, str(port), str(size)]
        )
        connection, _ = listener.accept()
        started = time.perf_counter()
        received = 0
        with connection, path.open("wb") as out:
            with Writeback(out.fileno()) as writeback:
                for turn in itertools.count():
                    buffer = buffers[turn % 2]
                    length = connection.recv_into(buffer)
                    if not length:
                        break
                    chunk = memoryview(buffer)[:length]
                    out.write(chunk)
                    writeback.wrote(length)
                    digest.update(chunk)
                    received += length
                digest.wait()
            out.flush()
            os.fsync(out.fileno())
            elapsed = time.perf_counter() - started
            connection.sendall(b"k")
        client.wait(timeout=60)
    path.unlink()
    if received != size:
        raise RuntimeError(f"the ceiling's client sent {received} of {size} bytes")
    return elapsed


def measure_storage(
    storage: str, folder: Path, size_mib: int, aws_endpoint: str | None, log: Log
) -> MemoryResult:
    size = size_mib * w.MIB
    copy = copy_mb_s(folder, size)
    ceiling = round(ceiling_mb_s(folder, size), 1)
    stack = w.Stack("memory", storage)
    env = stack_env(stack, folder, aws_endpoint, MAX_UPLOAD_BYTES=str(size + w.MIB))
    chunk = os.urandom(w.MIB)
    with running_server(folder, env, log=folder / "server.log") as server:
        port, pid = server.port, server.process.pid
        user = json.dumps({"email": w.email(0), "password": w.PASSWORD}).encode()
        _json(port, "POST", f"{API}/auth/register", user, **{"Content-Type": "application/json"})
        form = f"username={w.email(0)}&password={w.PASSWORD}".encode()
        token = _json(
            port,
            "POST",
            f"{API}/auth/login",
            form,
            **{"Content-Type": "application/x-www-form-urlencoded"},
        )["access_token"]
        auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        project = _json(port, "POST", f"{API}/projects", b'{"name": "big"}', **auth)["id"]
        files = f"{API}/projects/{project}/files"
        # Warm-up of both ways: first multipart parse, first part, first storage writes.
        _upload(port, files, w.MIB, token, chunk)
        _direct_upload(port, project, w.MIB, token, chunk)
        baseline = rss_kib(pid)
        prime_page_cache(folder, size)
        cpu = cpu_seconds(pid)
        with RssSampler(pid) as uploading:
            record, up_seconds = _upload(port, files, size, token, chunk)
        up_cpu = cpu_seconds(pid) - cpu
        with RssSampler(pid) as downloading:
            received, down_seconds = _download(port, f"{files}/{record['id']}/content", token)
        if received != size:
            raise RuntimeError(f"download returned {received} of {size} bytes")
        prime_page_cache(folder, size)
        cpu = cpu_seconds(pid)
        with RssSampler(pid) as direct:
            direct_record, direct_seconds = _direct_upload(port, project, size, token, chunk)
        direct_cpu = cpu_seconds(pid) - cpu
        if direct_record["sha256"] != record["sha256"]:
            raise RuntimeError("the direct upload stored other bytes than the upload")
    # Rounded first, so that each ratio is that of the figures shown beside it.
    upload_mb_s = round(size / 1e6 / up_seconds, 1)
    direct_mb_s = round(size / 1e6 / direct_seconds, 1)
    copy = round(copy, 1)
    result = MemoryResult(
        storage=storage,
        size_mib=size_mib,
        baseline_rss_mib=round(baseline / 1024, 1),
        upload_growth_mib=round(max(0, uploading.peak_kib - baseline) / 1024, 1),
        download_growth_mib=round(max(0, downloading.peak_kib - baseline) / 1024, 1),
        upload_mb_s=upload_mb_s,
        download_mb_s=round(size / 1e6 / down_seconds, 1),
        copy_mb_s=copy,
        ceiling_mb_s=ceiling,
        ceiling_ratio=round(ceiling / copy, 3),
        upload_ratio=round(upload_mb_s / copy, 3),
        direct_mb_s=direct_mb_s,
        direct_ratio=round(direct_mb_s / copy, 3),
        direct_growth_mib=round(max(0, direct.peak_kib - baseline) / 1024, 1),
        upload_cpu_s=round(up_cpu, 2),
        direct_cpu_s=round(direct_cpu, 2),
    )
    up, down = result.upload_growth_mib, result.download_growth_mib
    log(f"  {storage}: peak RSS +{up} MiB while uploading, +{down} MiB while downloading")
    log(
        f"  {storage}: upload {result.upload_ratio:.2f}x the copy, the ceiling of a Python "
        f"process receiving and hashing {result.ceiling_ratio:.2f}x, direct upload "
        f"{result.direct_ratio:.2f}x; API CPU {up_cpu:.2f} s up, {direct_cpu:.2f} s direct"
    )
    return result
