"""A router written exactly as FastAPI's tutorial writes one (APIRouter, an `Annotated`
current user, `include_router`) works on Hangar: it is authenticated, documented with the
lock, and its tests, like tests of Hangar's own routes, override any dependency."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI, WebSocket
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.dependencies import (
    CurrentUser,
    ProjectRepo,
    bearer,
    get_current_user,
    get_file_repo,
    get_file_storage,
    get_project_repo,
    get_user_repo,
)
from app.main import create_app
from app.models import User, utc_now
from app.repositories.memory import (
    MemoryDatabase,
    MemoryFileRepository,
    MemoryProjectRepository,
    MemoryUserRepository,
)
from app.storage.memory import MemoryStorage
from app.storage.signing import url_signer
from app.testing import log_in_as
from tests.client_fixtures import login, register

notes = APIRouter(prefix="/notes", tags=["notes"])


@notes.get("/mine")
async def my_notes(user: CurrentUser, projects: ProjectRepo) -> dict[str, Any]:
    page = projects.get_projects_by_user(user.id, limit=5)
    return {"user": user.email, "projects": [project.name for project in page.items]}


def returning(value: object) -> Callable[[], Awaitable[object]]:
    async def dependency() -> object:
        return value

    return dependency


def someone(email: str = "grace@example.com") -> User:
    return User(id="u-" + email, email=email, password_hash="unused", created_at=utc_now())


@pytest.fixture(params=["include_router", "routers="])
def app(request: pytest.FixtureRequest, settings: Settings) -> FastAPI:
    if request.param == "routers=":
        return create_app(settings, routers=[notes])
    app = create_app(settings)
    app.include_router(notes, prefix="/api/v1")
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def test_the_added_route_authenticates_for_real(client: TestClient) -> None:
    register(client, "ext@example.com")
    headers = login(client, "ext@example.com")
    client.post("/api/v1/projects", json={"name": "Mine"}, headers=headers)
    response = client.get("/api/v1/notes/mine", headers=headers)
    assert response.json() == {"user": "ext@example.com", "projects": ["Mine"]}
    refused = client.get("/api/v1/notes/mine")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"


def test_the_added_route_is_documented_with_the_lock(app: FastAPI) -> None:
    schema = app.openapi()
    operation = schema["paths"]["/api/v1/notes/mine"]["get"]
    assert operation["security"] == [{"OAuth2PasswordBearer": []}]
    assert schema["paths"]["/api/v1/projects"]["get"]["security"] == operation["security"]
    flow = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert flow["flows"]["password"]["tokenUrl"] == "/api/v1/auth/login"


def stored(client: TestClient, user: User) -> User:
    """`user` in the app's own user store, as a user who registered would be."""
    return client.app.state.context.backends.user_repo.add_user(user)  # type: ignore[attr-defined,no-any-return]


def test_log_in_as_reaches_added_and_built_in_routes(app: FastAPI, client: TestClient) -> None:
    grace = stored(client, someone())
    log_in_as(app, grace)
    assert client.get("/api/v1/notes/mine").json() == {"user": grace.email, "projects": []}
    assert client.get("/api/v1/auth/me").json()["email"] == grace.email
    created = client.post("/api/v1/projects", json={"name": "Override"})
    assert created.status_code == 201
    assert created.json()["owner_id"] == grace.id
    assert client.post("/api/v1/auth/logout").status_code == 204


def test_an_override_of_the_current_user_reaches_built_in_routes(
    app: FastAPI, client: TestClient
) -> None:
    grace = someone()

    async def as_grace() -> User:
        return grace

    app.dependency_overrides[get_current_user] = as_grace
    assert client.get("/api/v1/auth/me").json()["id"] == grace.id
    assert client.get("/api/v1/projects").json() == {"items": [], "next_cursor": None}


def test_an_override_of_the_bearer_scheme_is_used(app: FastAPI, client: TestClient) -> None:
    register(client, "ext@example.com")
    token = login(client, "ext@example.com")["Authorization"].removeprefix("Bearer ")

    async def from_a_cookie() -> str:
        return token

    app.dependency_overrides[bearer] = from_a_cookie
    assert client.get("/api/v1/auth/me").json()["email"] == "ext@example.com"


def test_repository_and_storage_overrides_take_the_writes(
    app: FastAPI, client: TestClient, settings: Settings
) -> None:
    grace = someone()
    log_in_as(app, grace)
    db = MemoryDatabase()
    projects, users, files = (
        MemoryProjectRepository(db),
        MemoryUserRepository(db),
        MemoryFileRepository(db),
    )
    storage = MemoryStorage(url_signer(settings))
    overrides = {
        get_project_repo: projects,
        get_user_repo: users,
        get_file_repo: files,
        get_file_storage: storage,
    }
    for dependency, replacement in overrides.items():
        app.dependency_overrides[dependency] = returning(replacement)
    users.add_user(grace)

    created = client.post("/api/v1/projects", json={"name": "Elsewhere"}).json()
    assert [p.id for p in projects.get_projects_by_user(grace.id, limit=5).items] == [created["id"]]
    real = client.app.state.context.backends  # type: ignore[attr-defined]
    assert real.project_repo.get_project(created["id"]) is None
    upload = client.post(
        f"/api/v1/projects/{created['id']}/files",
        files={"file": ("a.txt", b"bytes")},
        headers={"Authorization": "Bearer unchecked"},
    )
    assert upload.status_code == 201, upload.text
    key = f"{created['id']}/{upload.json()['id']}"
    assert b"".join(storage.download_file(key)) == b"bytes"
    patched = client.patch("/api/v1/auth/me", json={"full_name": "Grace H."})
    assert patched.json()["full_name"] == "Grace H."
    assert users.get_user(grace.id).full_name == "Grace H."  # type: ignore[union-attr]


def test_nested_routers_and_websockets_are_added_too(settings: Settings) -> None:
    outer, inner = APIRouter(prefix="/outer"), APIRouter(prefix="/inner")

    @inner.get("/ping")
    async def ping(user: CurrentUser) -> str:
        return user.email

    outer.include_router(inner)
    sockets = APIRouter()

    @sockets.websocket("/echo")
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text(await websocket.receive_text())
        await websocket.close()

    app = create_app(settings, routers=[outer, sockets])
    log_in_as(app, someone())
    with TestClient(app) as client:
        assert client.get("/api/v1/outer/inner/ping").json() == "grace@example.com"
        with client.websocket_connect("/api/v1/echo") as websocket:
            websocket.send_text("hi")
            assert websocket.receive_text() == "hi"
