"""The memory benchmark: a server's peak RSS while one large file goes up and comes back down
over HTTP, next to a plain copy of the same bytes on the same disk.

Streaming means the server's memory must not grow with the file: the multipart parser spools
to a temporary file, storage reads it in chunks, downloads go out chunk by chunk.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from pathlib import Path

from benchmarks import workload as w
from benchmarks.http import API
from benchmarks.report import MemoryResult
from benchmarks.servers import peak_rss_kib, rss_kib, running_server, stack_env

Log = Callable[[str], None]


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


def _call(
    port: int, method: str, path: str, body: bytes | Iterator[bytes] = b"", **headers: str
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _json(port: int, method: str, path: str, body: bytes, **headers: str) -> dict[str, str]:
    status, data = _call(port, method, path, body, **headers)
    if status >= 300:
        raise RuntimeError(f"{method} {path}: {status} {data[:200]!r}")
    parsed: dict[str, str] = json.loads(data)
    return parsed


def _upload(port: int, path: str, size: int, token: str) -> tuple[dict[str, str], float]:
    """A multipart upload of `size` bytes sent 1 MiB at a time: the client holds one chunk."""
    boundary = "hangarbenchboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    chunk = os.urandom(w.MIB)

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(size // w.MIB):
            yield chunk
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
    """A plain, fsynced copy of `size` bytes on the disk the storage uses."""
    folder.mkdir(parents=True, exist_ok=True)
    source, target = folder / "copy-source.bin", folder / "copy-target.bin"
    chunk = os.urandom(w.MIB)
    with source.open("wb") as out:
        for _ in range(size // w.MIB):
            out.write(chunk)
    started = time.perf_counter()
    shutil.copyfile(source, target)
    with target.open("rb+") as copied:
        os.fsync(copied.fileno())
    seconds = time.perf_counter() - started
    source.unlink()
    target.unlink()
    return size / 1e6 / seconds


def measure_storage(
    storage: str, folder: Path, size_mib: int, aws_endpoint: str | None, log: Log
) -> MemoryResult:
    size = size_mib * w.MIB
    stack = w.Stack("memory", storage)
    env = stack_env(stack, folder, aws_endpoint, MAX_UPLOAD_BYTES=str(size + w.MIB))
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
        _upload(port, files, w.MIB, token)  # warm-up: first multipart parse, first storage write
        baseline = rss_kib(pid)
        with RssSampler(pid) as uploading:
            record, up_seconds = _upload(port, files, size, token)
        with RssSampler(pid) as downloading:
            received, down_seconds = _download(port, f"{files}/{record['id']}/content", token)
        if received != size:
            raise RuntimeError(f"download returned {received} of {size} bytes")
    result = MemoryResult(
        storage=storage,
        size_mib=size_mib,
        baseline_rss_mib=round(baseline / 1024, 1),
        upload_growth_mib=round(max(0, uploading.peak_kib - baseline) / 1024, 1),
        download_growth_mib=round(max(0, downloading.peak_kib - baseline) / 1024, 1),
        upload_mb_s=round(size / 1e6 / up_seconds, 1),
        download_mb_s=round(size / 1e6 / down_seconds, 1),
        copy_mb_s=round(copy_mb_s(folder, size), 1),
    )
    up, down = result.upload_growth_mib, result.download_growth_mib
    log(f"  {storage}: peak RSS +{up} MiB while uploading, +{down} MiB while downloading")
    return result
