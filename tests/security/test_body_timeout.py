"""A request body that stops arriving is cut off with 408 by a real `hangar serve`, over a raw
socket, and nothing of it is kept; one that arrives slowly but steadily is served."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.servers import Server, running_server, server_env

API = "/api/v1"
TIMEOUT_SECONDS = 1.0
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("body-timeout")
    env = server_env(
        {
            "APP_ENV": "test",
            "DATABASE_TYPE": "memory",
            "STORAGE_TYPE": "memory",
            "BODY_READ_TIMEOUT_SECONDS": TIMEOUT_SECONDS,
        }
    )
    with running_server(folder, env, log=folder / "server.log") as running:
        yield running


def request_head(path: str, content_type: str, length: int, token: str | None = None) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Content-Type: {content_type}",
        f"Content-Length: {length}",
        "Connection: close",
        *([f"Authorization: Bearer {token}"] if token else []),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def send_and_read(server: Server, pieces: list[bytes], pause: float = 0.0) -> tuple[bytes, float]:
    """Send `pieces` with `pause` seconds between them, then read until the server closes;
    the answer and the seconds from the last piece sent to the close."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        for index, piece in enumerate(pieces):
            if index:
                time.sleep(pause)
            sock.sendall(piece)
        sent = time.monotonic()
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        return answer, time.monotonic() - sent


def status_and_body(answer: bytes) -> tuple[int, bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def register_body(email: str) -> bytes:
    return json.dumps({"email": email, "password": PASSWORD}).encode()


def test_a_body_that_never_arrives_is_a_408_and_nothing_is_created(server: Server) -> None:
    body = register_body("stalled@example.com")
    head = request_head(f"{API}/auth/register", "application/json", len(body))
    answer, waited = send_and_read(server, [head])
    status, content = status_and_body(answer)
    assert status == 408, answer[:300]
    assert "did not arrive within 1 seconds" in json.loads(content)["detail"]
    assert TIMEOUT_SECONDS <= waited < TIMEOUT_SECONDS + 4
    created = httpx.post(
        f"{server.base_url}{API}/auth/register",
        json={"email": "stalled@example.com", "password": PASSWORD},
    )
    assert created.status_code == 201, created.text


def test_an_upload_that_stalls_midway_is_a_408_and_stores_nothing(server: Server) -> None:
    with httpx.Client(base_url=f"{server.base_url}{API}") as client:
        email = "uploader@example.com"
        assert client.post("/auth/register", json={"email": email, "password": PASSWORD}).is_success
        token = client.post("/auth/login", data={"username": email, "password": PASSWORD}).json()[
            "access_token"
        ]
        auth = {"Authorization": f"Bearer {token}"}
        project = client.post("/projects", json={"name": "Apollo"}, headers=auth).json()["id"]
        part = (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n" + b"x" * 1000
        )
        head = request_head(
            f"{API}/projects/{project}/files", "multipart/form-data; boundary=b", 100_000, token
        )
        answer, waited = send_and_read(server, [head, part], pause=0.1)
        assert status_and_body(answer)[0] == 408, answer[:300]
        assert waited < TIMEOUT_SECONDS + 4
        listed = client.get(f"/projects/{project}/files", headers=auth).json()
        assert listed["items"] == []


def test_a_slow_but_steady_body_is_served(server: Server) -> None:
    body = register_body("steady@example.com")
    head = request_head(f"{API}/auth/register", "application/json", len(body))
    pieces = [body[start : start + 10] for start in range(0, len(body), 10)]
    pause = TIMEOUT_SECONDS * 0.5
    assert len(pieces) * pause > 2 * TIMEOUT_SECONDS  # longer in all than one timeout
    answer, _ = send_and_read(server, [head, *pieces], pause=pause)
    status, content = status_and_body(answer)
    assert status == 201, answer[:300]
    assert json.loads(content)["email"] == "steady@example.com"
