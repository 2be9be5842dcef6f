"""Authorization is decided when a request's work is done, not when its headers arrive: a
write whose body arrives after its session was revoked (logout everywhere, a password change,
the account deleted) is refused and changes nothing. Real `hangar serve` processes on sqlite
and on DynamoDB (moto), a raw socket sending the head, then the body once the revocation is in.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from app.core.config import DEV_SECRET_KEY
from app.core.security import AccessTokens
from benchmarks.servers import Server, running_server, server_env
from tests.aws import aws_overrides

API = "/api/v1"
PASSWORD = "correct horse battery"
NEW_PASSWORD = "another horse battery"


@pytest.fixture(scope="module", params=["sqlite", "dynamodb"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder: Path = tmp_path_factory.mktemp("late-bodies")
    values: dict[str, object] = {"APP_ENV": "test", "DATABASE_TYPE": request.param}
    if request.param == "dynamodb":
        values |= {**aws_overrides(request), "STORAGE_TYPE": "s3"}
    else:
        values |= {
            "STORAGE_TYPE": "local",
            "SQLITE_PATH": folder / "app.sqlite3",
            "LOCAL_STORAGE_PATH": folder / "uploads",
        }
    with running_server(folder, server_env(values), log=folder / "server.log") as running:
        yield running


def account(server: Server, email: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=server.base_url + API, timeout=15)
    client.post("/auth/register", json={"email": email, "password": PASSWORD})
    form = {"username": email, "password": PASSWORD}
    return client, client.post("/auth/login", data=form).json()["access_token"]


def late_write(
    server: Server,
    method: str,
    path: str,
    token: str,
    body: dict[str, object],
    meanwhile: Callable[[], None],
) -> int:
    """Send the head of a JSON write, run `meanwhile`, then send the body; the status."""
    data = json.dumps(body).encode()
    lines = [
        f"{method} {API}{path} HTTP/1.1",
        "Host: 127.0.0.1",
        f"Authorization: Bearer {token}",
        "Content-Type: application/json",
        f"Content-Length: {len(data)}",
        "Connection: close",
    ]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(head)
        meanwhile()
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return int(answer.split(b" ", 2)[1])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_profile_change_arriving_after_logout_everywhere_is_refused(server: Server) -> None:
    client, token = account(server, f"late-{server.port}@example.com")
    status = late_write(
        server,
        "PATCH",
        "/auth/me",
        token,
        {"full_name": "Changed"},
        lambda: client.post("/auth/logout-all", headers=bearer(token)).raise_for_status(),
    )
    assert status == 401
    fresh = client.post(
        "/auth/login", data={"username": f"late-{server.port}@example.com", "password": PASSWORD}
    ).json()["access_token"]
    assert client.get("/auth/me", headers=bearer(fresh)).json()["full_name"] is None


def test_a_project_arriving_after_a_password_change_elsewhere_is_refused(server: Server) -> None:
    email = f"moved-{server.port}@example.com"
    client, stolen = account(server, email)
    owner = client.post("/auth/login", data={"username": email, "password": PASSWORD}).json()
    change = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}

    def change_password() -> None:
        answer = client.post(
            "/auth/me/password", json=change, headers=bearer(owner["access_token"])
        )
        answer.raise_for_status()

    status = late_write(server, "POST", "/projects", stolen, {"name": "Late"}, change_password)
    assert status == 401
    listed = client.get("/projects", headers=bearer(owner["access_token"])).json()
    assert listed["items"] == []


def test_a_project_arriving_after_the_account_was_deleted_is_refused(server: Server) -> None:
    email = f"gone-{server.port}@example.com"
    client, token = account(server, email)
    other = client.post("/auth/login", data={"username": email, "password": PASSWORD}).json()

    def delete_account() -> None:
        answer = client.request(
            "DELETE", "/auth/me", json={"password": PASSWORD}, headers=bearer(other["access_token"])
        )
        answer.raise_for_status()

    status = late_write(server, "POST", "/projects", token, {"name": "Orphan"}, delete_account)
    assert status == 401
    again = client.post("/auth/login", data={"username": email, "password": PASSWORD})
    assert again.status_code == 401


def test_a_project_whose_token_expired_while_its_body_was_on_the_way_is_refused(
    server: Server,
) -> None:
    """A token valid when the head arrives and expired when the body does: refused, as the
    token is checked once the body is in (a body later than BODY_READ_TIMEOUT_SECONDS would
    get a 408 before that)."""
    client, token = account(server, f"expiring-{server.port}@example.com")
    claims = jwt.decode(token, options={"verify_signature": False})
    short = AccessTokens(DEV_SECRET_KEY, lifetime_seconds=1).issue(claims["sub"], claims["sid"])
    assert client.get("/auth/me", headers=bearer(short.access_token)).status_code == 200
    status = late_write(
        server,
        "POST",
        "/projects",
        short.access_token,
        {"name": "Expired"},
        lambda: time.sleep(1.5),
    )
    assert status == 401
    assert client.get("/projects", headers=bearer(token)).json()["items"] == []
