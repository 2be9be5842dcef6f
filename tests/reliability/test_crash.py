"""A real server killed with SIGKILL in the middle of uploads, then stopped with SIGTERM during
one: no partial file ever shows, crash leftovers are cleaned at start-up, and a graceful stop
lets the upload in flight finish and releases the database."""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app import doctor
from app.backends import open_backends
from app.core.config import Settings
from app.storage.local import TEMP_PREFIX
from benchmarks.servers import Server, server_env

API = "/api/v1"
BOUNDARY = "hangar-crash-test"
CHUNK = 1024 * 1024
BIG_CHUNKS = 96  # large enough that copying it to storage takes a visible while
PASSWORD = "correct horse battery"


def settings_env(tmp_path: Path, **extra: object) -> dict[str, str]:
    return server_env(
        {
            "APP_ENV": "test",
            "DATABASE_TYPE": "duckdb",
            "STORAGE_TYPE": "local",
            "DUCKDB_PATH": tmp_path / "data" / "app.db",
            "LOCAL_STORAGE_PATH": tmp_path / "uploads",
            "MAX_UPLOAD_BYTES": 2 * BIG_CHUNKS * CHUNK,
            **extra,
        }
    )


def start(tmp_path: Path, *args: str, **extra: object) -> Server:
    server = Server(tmp_path, settings_env(tmp_path, **extra), args, log=tmp_path / "server.log")
    server.wait_ready()
    return server


def sign_up(base: str) -> tuple[dict[str, str], str]:
    body = {"email": "crash@example.com", "password": PASSWORD}
    assert httpx.post(f"{base}{API}/auth/register", json=body).status_code == 201
    form = {"username": body["email"], "password": PASSWORD}
    token = httpx.post(f"{base}{API}/auth/login", data=form).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    project = httpx.post(f"{base}{API}/projects", json={"name": "Crash"}, headers=headers)
    return headers, project.json()["id"]


def log_in(base: str) -> dict[str, str]:
    form = {"username": "crash@example.com", "password": PASSWORD}
    token = httpx.post(f"{base}{API}/auth/login", data=form).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


class Upload(threading.Thread):
    """A multipart upload streamed from a generator (chunked, no Content-Length), optionally
    slowly; `streaming` is set once the first chunk of the file has been sent."""

    def __init__(
        self, url: str, headers: dict[str, str], chunks: list[bytes], delay: float = 0.0
    ) -> None:
        super().__init__(daemon=True)
        self.url, self.headers, self.chunks, self.delay = url, headers, chunks, delay
        self.streaming = threading.Event()
        self.response: httpx.Response | None = None
        self.error: Exception | None = None
        self.sha256 = hashlib.sha256(b"".join(chunks)).hexdigest()

    def body(self) -> Iterator[bytes]:
        yield (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"'
            "\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode()
        for chunk in self.chunks:
            yield chunk
            self.streaming.set()
            time.sleep(self.delay)
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    def run(self) -> None:
        headers = {**self.headers, "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
        try:
            self.response = httpx.post(self.url, content=self.body(), headers=headers, timeout=60)
        except httpx.HTTPError as error:
            self.error = error
        finally:
            self.streaming.set()


def temp_files(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "uploads").rglob(f"{TEMP_PREFIX}*"))


def listed(base: str, headers: dict[str, str], project_id: str) -> list[dict[str, object]]:
    response = httpx.get(f"{base}{API}/projects/{project_id}/files", headers=headers)
    assert response.status_code == 200
    items: list[dict[str, object]] = response.json()["items"]
    return items


def wait_for_temp_file(tmp_path: Path, upload: Upload, limit: float = 60) -> bool:
    """Poll the storage folder until the upload's temp file shows (the storage write began)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and upload.is_alive():
        if temp_files(tmp_path):
            return True
        time.sleep(0.002)
    return bool(temp_files(tmp_path))


def test_kills_mid_upload_leave_no_visible_file_and_a_graceful_stop_finishes_one(
    tmp_path: Path,
) -> None:
    # 1. One kill hits two uploads: one whose body is still streaming in (Starlette spools it
    # to an anonymous temp file, which dies with the process), and one being copied into
    # storage, whose `.tmp-` file is caught on disk first and left behind.
    server = start(tmp_path)
    headers, project_id = sign_up(server.base_url)
    files_url = f"{server.base_url}{API}/projects/{project_id}/files"
    slow = Upload(files_url, headers, [b"a" * 16 * 1024] * 300, delay=0.1)
    slow.start()
    assert slow.streaming.wait(30)
    big = Upload(files_url, headers, [bytes([n]) * CHUNK for n in range(BIG_CHUNKS)])
    big.start()
    caught = wait_for_temp_file(tmp_path, big)
    server.kill()
    big.join(30)
    slow.join(30)
    if not caught:
        pytest.fail("the storage write finished before a temp file could be seen")
    assert big.response is None and slow.response is None
    assert len(temp_files(tmp_path)) == 1

    # 2. Start-up removes the temp file of the killed process, young as it is (the threshold
    # is an hour), and nothing is listed.
    server = start(tmp_path, "--access-log", LOG_FORMAT="json")
    headers = log_in(server.base_url)
    files_url = f"{server.base_url}{API}/projects/{project_id}/files"
    assert temp_files(tmp_path) == []
    assert listed(server.base_url, headers, project_id) == []

    # 3. SIGTERM during an upload: no new connections, the upload finishes, the exit is clean.
    finishing = Upload(files_url, headers, [b"z" * 64 * 1024] * 20, delay=0.1)
    finishing.start()
    assert finishing.streaming.wait(30)
    server.process.terminate()
    time.sleep(0.3)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.base_url}{API}/health", timeout=5)
    finishing.join(60)
    assert finishing.response is not None, finishing.error
    assert finishing.response.status_code == 201
    # uvicorn re-raises SIGTERM once its shutdown (lifespan included) has completed.
    assert server.process.wait(timeout=30) in {0, -signal.SIGTERM}
    lines = (tmp_path / "server.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert any(e["message"] == "Application shutdown complete." for e in entries)
    access = [e for e in entries if e["logger"] == "uvicorn.access"]
    [upload] = [e for e in access if "POST" in e["message"] and "/files" in e["message"]]
    assert " 201" in upload["message"] and len(upload["request_id"]) == 32

    # The database file was released and holds exactly the one finished upload.
    settings = Settings(_env_file=None, **settings_env(tmp_path))  # type: ignore[arg-type]
    backends = open_backends(settings)
    try:
        [record] = backends.file_repo.list_files(project_id, limit=10).items
        assert record.sha256 == finishing.sha256
        assert doctor.examine(backends, temp_file_max_age=0).findings == []
    finally:
        backends.close()
