"""The dependencies `app/dependencies.py` offers for new routes (the names the foundation issue
and ARCHITECTURE.md use) hand a route the running app's own backends and the caller's user."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.dependencies import CurrentUser, FileRepo, ProjectRepo, Storage, UserRepo
from app.main import create_app
from tests.client_fixtures import login, register


@pytest.fixture
def extended(settings: Settings) -> Iterator[TestClient]:
    """The app with one route a user of Hangar might add, built only on those dependencies."""
    app = create_app(settings)

    @app.get("/api/v1/extension")
    async def extension(
        user: CurrentUser, users: UserRepo, projects: ProjectRepo, files: FileRepo, storage: Storage
    ) -> dict[str, object]:
        backends = app.state.context.backends
        return {
            "user": user.id,
            "stored_user": users.get_user(user.id) == user,
            "same_backends": [
                projects is backends.project_repo,
                files is backends.file_repo,
                storage is backends.file_storage,
            ],
        }

    with TestClient(app) as client:
        yield client


def test_a_new_route_gets_the_caller_and_the_apps_own_backends(extended: TestClient) -> None:
    account = register(extended, "ext@example.com")
    response = extended.get("/api/v1/extension", headers=login(extended, "ext@example.com"))
    assert response.status_code == 200, response.text
    assert response.json() == {
        "user": account["id"],
        "stored_user": True,
        "same_backends": [True, True, True],
    }


def test_current_user_refuses_a_request_without_a_token(extended: TestClient) -> None:
    response = extended.get("/api/v1/extension")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
