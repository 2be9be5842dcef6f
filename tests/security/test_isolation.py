"""One user can never see, change, delete or link another's data, by any path."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from app.context import AppContext
from app.core.config import Settings
from tests.client_fixtures import (
    NOT_FOUND,
    Headers,
    create_project,
    files_url,
    stored_state,
    upload,
)


def test_a_forged_or_foreign_cursor_is_400(
    client: TestClient, alice: Headers, bob: Headers
) -> None:
    for i in range(3):
        create_project(client, alice, f"p{i}")
    cursor = client.get("/api/v1/projects", params={"limit": 1}, headers=alice).json()[
        "next_cursor"
    ]
    assert cursor
    payload = cursor.split(".")[0]
    forgeries = ["garbage", cursor + "x", "x" + cursor, payload + ".AAAA", payload + ".ø", "ø.ø"]
    for forged in forgeries:
        response = client.get("/api/v1/projects", params={"cursor": forged}, headers=alice)
        assert response.status_code == 400
        assert response.json() == {"detail": "Invalid page cursor"}
    replayed = client.get("/api/v1/projects", params={"cursor": cursor}, headers=bob)
    assert replayed.status_code == 400


def test_someone_elses_project_is_exactly_like_a_missing_one(
    client: TestClient, alice: Headers, bob: Headers
) -> None:
    project = create_project(client, alice, "Apollo")
    url = f"/api/v1/projects/{project['id']}"
    missing = "/api/v1/projects/does-not-exist"
    calls: list[Callable[[str], Any]] = [
        lambda u: client.get(u, headers=bob),
        lambda u: client.patch(u, json={"name": "mine now"}, headers=bob),
        lambda u: client.delete(u, headers=bob),
    ]
    for call in calls:
        theirs, absent = call(url), call(missing)
        assert theirs.status_code == absent.status_code == 404
        assert theirs.json() == absent.json() == NOT_FOUND
    assert client.get(url, headers=alice).json() == project


def test_mass_assignment_of_ids_and_privileges_is_refused(
    client: TestClient, alice: Headers, bob: Headers
) -> None:
    bob_id = client.get("/api/v1/auth/me", headers=bob).json()["id"]
    for field, value in (("id", "chosen"), ("owner_id", bob_id), ("is_superuser", True)):
        response = client.post("/api/v1/projects", json={"name": "x", field: value}, headers=alice)
        assert response.status_code == 422
        registered = client.post(
            "/api/v1/auth/register",
            json={"email": f"{field}@example.com", "password": "password-1", field: value},
        )
        assert registered.status_code == 422
    assert client.get("/api/v1/projects", headers=alice).json()["items"] == []
    assert client.get("/api/v1/projects", headers=bob).json()["items"] == []


def test_uploads_into_someone_elses_project_are_404_and_store_nothing(
    client: TestClient,
    alice: Headers,
    bob: Headers,
    project_id: str,
    context: AppContext,
    settings: Settings,
) -> None:
    response = client.post(files_url(project_id), files={"file": ("x", b"data")}, headers=bob)
    assert response.status_code == 404
    assert stored_state(context, settings) == ([], [])


def test_someone_elses_files_are_404_by_any_path(
    client: TestClient, alice: Headers, bob: Headers, project_id: str
) -> None:
    record = upload(client, alice, project_id, "secret.txt", b"secret")
    bobs_project = client.post("/api/v1/projects", json={"name": "mine"}, headers=bob).json()["id"]
    for project in (project_id, bobs_project):
        for suffix in ("", "/content", "/url"):
            assert (
                client.get(files_url(project, f"/{record['id']}{suffix}"), headers=bob).status_code
                == 404
            )
        assert client.delete(files_url(project, f"/{record['id']}"), headers=bob).status_code == 404
    assert (
        client.get(files_url(project_id, f"/{record['id']}/content"), headers=alice).content
        == b"secret"
    )
