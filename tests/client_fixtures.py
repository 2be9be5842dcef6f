"""An app per test, driven over HTTP by Starlette's TestClient, on each backend stack (a plugin
of every suite that speaks HTTP: api, security, reliability)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.context import AppContext
from app.core.config import Settings
from app.main import create_app
from app.storage.base import DATABASE_MARKER
from tests.conftest import API_STACKS, TEST_BASE_URL, SettingsFactory

PASSWORD = "correct horse battery"
LIMIT = 64 * 1024
"""MAX_UPLOAD_BYTES of these apps: small, so limits are cheap to cross."""
Headers = dict[str, str]


@pytest.fixture(params=API_STACKS, ids=lambda stack: "+".join(stack))
def settings(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> Settings:
    database, storage = request.param
    return make_settings(database=database, storage=storage, MAX_UPLOAD_BYTES=LIMIT)


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
    project: str = create_project(client, alice, "Apollo")["id"]  # type: ignore[assignment]
    return project


def files_url(project_id: str, suffix: str = "") -> str:
    return f"/api/v1/projects/{project_id}/files{suffix}"


def upload(
    client: TestClient,
    headers: Headers,
    project_id: str,
    name: str,
    data: bytes,
    content_type: str = "text/plain",
) -> dict[str, object]:
    response = client.post(
        files_url(project_id), files={"file": (name, data, content_type)}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def stored_state(context: AppContext, settings: Settings) -> tuple[list[str], list[str]]:
    """Every storage key, and every file on disk (temp files included, the markers of the
    databases bound to the storage not) for local storage."""
    keys = list(context.backends.file_storage.list_keys())
    root = Path(settings.LOCAL_STORAGE_PATH)
    files = root.rglob("*") if root.exists() else []
    on_disk = sorted(
        str(p) for p in files if p.is_file() and not p.name.startswith(DATABASE_MARKER)
    )
    return keys, on_disk


NOT_FOUND = {"detail": "Project not found"}


def create_project(
    client: TestClient, headers: Headers, name: str, **extra: object
) -> dict[str, object]:
    response = client.post("/api/v1/projects", json={"name": name, **extra}, headers=headers)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def fetch_link(client: TestClient, url: str) -> httpx.Response:
    """GET a presigned link with no token: Hangar's own links through the app under test,
    S3's with a plain HTTP client, as a browser would."""
    if url.startswith(TEST_BASE_URL):
        return client.get(url)
    return httpx.get(url)
