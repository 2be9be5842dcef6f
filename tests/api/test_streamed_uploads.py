"""Uploads streamed by a real `hangar serve`, over a raw socket: the project is checked before
the file's bytes are read, and a client that goes away half way leaves nothing behind, neither
a temp file on disk nor an object in the bucket nor a record."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.core.aws import s3_client
from app.core.config import Settings
from app.storage.base import DATABASE_MARKER
from benchmarks.servers import Server, running_server, server_env
from tests.client_fixtures import PASSWORD

API = "/api/v1"
DECLARED = 4 * 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, Settings]]:
    values: dict[str, object] = {
        "APP_ENV": "test",
        "DATABASE_TYPE": "memory",
        "STORAGE_TYPE": request.param,
        "LOCAL_STORAGE_PATH": tmp_path / "uploads",
    }
    if request.param == "s3":
        from tests.aws import aws_overrides

        values |= {k: v for k, v in aws_overrides(request).items() if v is not None}
    with running_server(tmp_path, server_env(values), log=tmp_path / "server.log") as server:
        yield server, Settings(_env_file=None, **values)


def sign_in(http: httpx.Client, email: str) -> tuple[str, str]:
    """A new user's token and a project of theirs."""
    assert http.post("/auth/register", json={"email": email, "password": PASSWORD}).is_success
    login = http.post("/auth/login", data={"username": email, "password": PASSWORD})
    token = login.json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    project = http.post("/projects", json={"name": "Apollo"}, headers=auth).json()["id"]
    return token, project


def upload_head(project: str, token: str) -> bytes:
    part = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    lines = [
        f"POST {API}/projects/{project}/files HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: multipart/form-data; boundary=b",
        f"Content-Length: {DECLARED}",
        f"Authorization: Bearer {token}",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + part


def stored(settings: Settings) -> list[str]:
    """Every file under the local folder (temp files included) or object or multipart upload
    in the bucket, but the marker of the database bound to it."""
    if settings.STORAGE_TYPE == "local":
        found = [p.name for p in settings.LOCAL_STORAGE_PATH.rglob("*") if p.is_file()]
    else:
        s3 = s3_client(settings)
        objects = s3.list_objects_v2(Bucket=settings.S3_BUCKET).get("Contents", [])
        uploads = s3.list_multipart_uploads(Bucket=settings.S3_BUCKET).get("Uploads", [])
        found = [entry["Key"] for entry in [*objects, *uploads]]
    return [name for name in found if not name.startswith(DATABASE_MARKER)]


def test_a_project_not_yours_is_404_before_the_file_arrives(
    stack: tuple[Server, Settings],
) -> None:
    server, settings = stack
    with httpx.Client(base_url=server.base_url + API) as http:
        _, project = sign_in(http, "alice@example.com")
        token, _ = sign_in(http, "bob@example.com")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(upload_head(project, token) + b"x" * 1000)
        answer = sock.recv(65536)  # the server answers with most of the body still to come
    assert answer.startswith(b"HTTP/1.1 404"), answer[:200]
    assert stored(settings) == []


def test_a_client_that_goes_away_half_way_leaves_nothing(stack: tuple[Server, Settings]) -> None:
    server, settings = stack
    with httpx.Client(base_url=server.base_url + API) as http:
        token, project = sign_in(http, "alice@example.com")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(upload_head(project, token) + b"x" * (DECLARED // 2))
            deadline = time.monotonic() + 10
            while settings.STORAGE_TYPE == "local" and not stored(settings):
                assert time.monotonic() < deadline, "the upload never reached the disk"
                time.sleep(0.01)
        deadline = time.monotonic() + 10
        while stored(settings):
            assert time.monotonic() < deadline, stored(settings)
            time.sleep(0.05)
        listed = http.get(
            f"/projects/{project}/files", headers={"Authorization": f"Bearer {token}"}
        )
        assert listed.json()["items"] == []
