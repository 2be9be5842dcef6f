"""An app per test, driven over HTTP by Starlette's TestClient, on each backend stack."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.dependencies import AppContext
from app.main import create_app
from tests.conftest import API_STACKS, SettingsFactory

PASSWORD = "correct horse battery"
Headers = dict[str, str]


@pytest.fixture(params=API_STACKS, ids=lambda stack: "+".join(stack))
def settings(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> Settings:
    database, storage = request.param
    return make_settings(database=database, storage=storage, MAX_UPLOAD_BYTES=64 * 1024)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def context(client: TestClient) -> AppContext:
    """The running app's backends, to check what really was stored."""
    app_context: AppContext = client.app.state.context  # type: ignore[attr-defined]
    return app_context


def register(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, object]:
    response = client.post("/api/v1/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def login(client: TestClient, email: str, password: str = PASSWORD) -> Headers:
    response = client.post("/api/v1/auth/login", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def user_factory(client: TestClient) -> Callable[[str], Headers]:
    """Register and log in a user; returns their auth headers."""

    def make(email: str) -> Headers:
        register(client, email)
        return login(client, email)

    return make


@pytest.fixture
def alice(user_factory: Callable[[str], Headers]) -> Headers:
    return user_factory("alice@example.com")


@pytest.fixture
def bob(user_factory: Callable[[str], Headers]) -> Headers:
    return user_factory("bob@example.com")


@pytest.fixture
def project_id(client: TestClient, alice: Headers) -> str:
    response = client.post("/api/v1/projects", json={"name": "Apollo"}, headers=alice)
    assert response.status_code == 201
    project: str = response.json()["id"]
    return project
