"""Oversized request heads are refused by the server itself (431, or a closed connection), sent
over a raw socket to a real `hangar serve`, which answers the next client as before."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.servers import Server, running_server, server_env

HEALTH = "/api/v1/health"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("header-limits")
    env = server_env({"APP_ENV": "test", "DATABASE_TYPE": "memory", "STORAGE_TYPE": "memory"})
    with running_server(folder, env, log=folder / "server.log") as running:
        yield running


def head(*headers: tuple[str, str]) -> bytes:
    lines = [f"GET {HEALTH} HTTP/1.1", "Host: 127.0.0.1", *(f"{n}: {v}" for n, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def exchange(server: Server, request: bytes) -> bytes:
    """Send `request` (as far as the server reads it) and return what came back before the
    server closed the connection or went quiet; a reset counts as a close."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        try:
            for start in range(0, len(request), 64 * 1024):
                sock.sendall(request[start : start + 64 * 1024])
        except OSError:
            pass  # closed while we were still sending: the server refused to read on
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and b"connection: close" not in answer.lower():
                    break  # a kept-alive answer: the server took the request
        except OSError:
            pass
        return answer


def status(answer: bytes) -> int | None:
    """The status of the first response, None if the server closed without one."""
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


def test_an_ordinary_head_is_served(server: Server) -> None:
    headers = [("Authorization", "Bearer " + "t" * 8000)] + [(f"X-H{i}", "v") for i in range(50)]
    assert status(exchange(server, head(*headers))) == 200


@pytest.mark.parametrize(
    "request_head",
    [
        pytest.param(head(("X-Big", "a" * 64 * 1024)), id="one 64 KiB header"),
        pytest.param(head(("X-Big", "a" * 8 * MIB)), id="one 8 MiB header"),
        pytest.param(head(*[(f"X-H{i}", "a" * 1024) for i in range(64)]), id="64 x 1 KiB"),
        pytest.param(head(*[(f"X-H{i}", "v") for i in range(10_000)]), id="10,000 headers"),
        pytest.param(
            f"GET {HEALTH}?q={'a' * 64 * 1024} HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
            id="64 KiB request line",
        ),
    ],
)
def test_an_oversized_head_is_refused_before_the_app(server: Server, request_head: bytes) -> None:
    started = time.monotonic()
    answer = exchange(server, request_head)
    assert status(answer) in {431, None}, answer[:200]
    assert time.monotonic() - started < 5
    assert httpx.get(server.base_url + HEALTH).status_code == 200


def read_response(sock: socket.socket) -> bytes:
    """One whole response of a kept-alive connection (head and Content-Length body)."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(65536)
    head_part, body = answer.split(b"\r\n\r\n", 1)
    length = next(
        int(line.split(b":", 1)[1])
        for line in head_part.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return answer


def test_the_limit_applies_to_each_request_of_a_kept_alive_connection(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(3):  # small heads of one connection do not add up to the limit
            sock.sendall(head(("X-Small", "a" * 16 * 1024)))
            assert status(read_response(sock)) == 200
        sock.sendall(head(("X-Big", "a" * 64 * 1024)))
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:
            pass
    assert status(answer) in {431, None}, answer[:200]
