"""An AWS endpoint that accepts connections and never answers: a real `hangar serve` on DynamoDB
and S3 (the moto server, reached through a proxy that can be made to hang) still answers
/health within seconds, 503 naming the part that hangs, and every request within its AWS
timeouts instead of botocore's minutes."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from app.core.aws import dynamodb_client, s3_client
from app.core.config import Settings
from benchmarks.servers import Server, running_server, server_env
from tests.aws import aws_overrides
from tests.client_fixtures import PASSWORD

API = "/api/v1"
HEALTH = f"{API}/health"


class HangingProxy:
    """Forwards TCP connections to `upstream` until `hang()`; from then on it accepts and reads,
    on new and open connections alike, and never answers."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.hanging = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def hang(self) -> None:
        self.hanging.set()

    def close(self) -> None:
        for sock in [self.listener, *self.sockets]:
            with suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            if self.hanging.is_set():
                threading.Thread(target=self._pump, args=(client, None), daemon=True).start()
                continue
            upstream = socket.create_connection(self.upstream)
            self.sockets.append(upstream)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket | None) -> None:
        with suppress(OSError):
            while chunk := source.recv(65536):
                if sink is not None and not self.hanging.is_set():
                    sink.sendall(chunk)


@pytest.fixture
def moto(request: pytest.FixtureRequest) -> dict[str, object]:
    """Settings of fresh tables and bucket on the moto server."""
    overrides = aws_overrides(request)
    if overrides["AWS_ENDPOINT_URL"] is None:
        pytest.skip("needs an endpoint on this machine to put a proxy in front of")
    return overrides


@pytest.fixture
def proxy(moto: dict[str, object]) -> Iterator[HangingProxy]:
    hanging = HangingProxy(str(moto["AWS_ENDPOINT_URL"]))
    yield hanging
    hanging.close()


def serve(tmp_path: Path, settings: dict[str, object]) -> Server:
    env = server_env(
        {"APP_ENV": "test", "DATABASE_TYPE": "dynamodb", "STORAGE_TYPE": "s3", **settings}
    )
    return running_server(tmp_path, env, log=tmp_path / "server.log")


def timed_get(url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.get(url, timeout=30)
    return response, time.monotonic() - started


@pytest.mark.parametrize(
    ("endpoint", "part"), [("DYNAMODB_ENDPOINT_URL", "database"), ("S3_ENDPOINT_URL", "storage")]
)
def test_health_names_the_part_that_hangs_within_seconds(
    tmp_path: Path, moto: dict[str, object], proxy: HangingProxy, endpoint: str, part: str
) -> None:
    """With the default timeouts, as a load balancer would meet them."""
    with serve(tmp_path, {**moto, endpoint: proxy.url}) as server:
        assert httpx.get(server.base_url + HEALTH).status_code == 200
        proxy.hang()
        for _ in range(2):  # the first ping left hanging keeps no later one waiting
            response, elapsed = timed_get(server.base_url + HEALTH)
            assert response.status_code == 503
            assert response.json() == {
                "status": "unavailable",
                "database": "ok",
                "storage": "ok",
                part: "unavailable",
            }
            assert elapsed < 5


def test_a_request_on_a_hanging_database_ends_within_its_timeouts(
    tmp_path: Path, moto: dict[str, object], proxy: HangingProxy
) -> None:
    settings = {
        **moto,
        "DYNAMODB_ENDPOINT_URL": proxy.url,
        "AWS_READ_TIMEOUT_SECONDS": 1,
        "AWS_MAX_ATTEMPTS": 2,
    }
    with serve(tmp_path, settings) as server:
        proxy.hang()
        started = time.monotonic()
        response = httpx.post(
            f"{server.base_url}{API}/auth/login",
            data={"username": "ada@example.com", "password": PASSWORD},
            timeout=30,
        )
        assert response.status_code >= 500
        assert time.monotonic() - started < 8


def test_every_client_gets_the_timeouts_of_the_settings() -> None:
    settings = Settings(
        _env_file=None,
        APP_ENV="test",
        AWS_CONNECT_TIMEOUT_SECONDS=1.5,
        AWS_READ_TIMEOUT_SECONDS=4,
        AWS_MAX_ATTEMPTS=2,
    )
    for client in (dynamodb_client(settings), s3_client(settings)):
        config: Any = client.meta.config  # botocore's stubs leave its options out
        assert (config.connect_timeout, config.read_timeout) == (1.5, 4)
        assert config.retries == {"mode": "standard", "total_max_attempts": 2}
    defaults: Any = dynamodb_client(Settings(_env_file=None, APP_ENV="test")).meta.config
    assert defaults.read_timeout * defaults.retries["total_max_attempts"] <= 30


@pytest.mark.parametrize(
    ("endpoint", "name"), [("DYNAMODB_ENDPOINT_URL", "DynamoDB"), ("S3_ENDPOINT_URL", "S3")]
)
def test_a_request_on_a_hanging_backend_answers_503_naming_it(
    tmp_path: Path, moto: dict[str, object], proxy: HangingProxy, endpoint: str, name: str
) -> None:
    settings = {**moto, endpoint: proxy.url, "AWS_READ_TIMEOUT_SECONDS": 1, "AWS_MAX_ATTEMPTS": 2}
    with serve(tmp_path, settings) as server:
        api = httpx.Client(base_url=server.base_url + API, timeout=30)
        credentials = {"email": "ada@example.com", "password": PASSWORD}
        assert api.post("/auth/register", json=credentials).status_code == 201
        login = api.post("/auth/login", data={"username": "ada@example.com", "password": PASSWORD})
        api.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        project = api.post("/projects", json={"name": "Apollo"}).json()["id"]
        files = f"/projects/{project}/files"
        file_id = api.post(files, files={"file": ("a.txt", b"hello")}).json()["id"]
        proxy.hang()
        started = time.monotonic()
        response = api.get(f"{files}/{file_id}/content")
        assert response.status_code == 503, response.text
        assert name in response.json()["detail"]
        assert time.monotonic() - started < 8
