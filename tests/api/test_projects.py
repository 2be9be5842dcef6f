"""Projects over HTTP: ownership, pagination and validation."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.client_fixtures import Headers, create_project


def test_create_returns_the_project_owned_by_the_caller(client: TestClient, alice: Headers) -> None:
    me = client.get("/api/v1/auth/me", headers=alice).json()
    project = create_project(client, alice, "  Apollo ", description="to the moon")
    assert set(project) == {
        "id",
        "name",
        "description",
        "owner_id",
        "created_at",
        "updated_at",
        "version",
    }
    assert project["version"] == 1
    assert project["name"] == "Apollo"
    assert project["description"] == "to the moon"
    assert project["owner_id"] == me["id"]
    assert project["created_at"] == project["updated_at"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 201},
        {},
        {"name": "ok", "id": "chosen-id"},
        {"name": "ok", "owner_id": "someone"},
        {"name": "ok", "description": "d" * 5001},
    ],
)
def test_bad_projects_are_422_and_nothing_is_created(
    client: TestClient, alice: Headers, body: dict[str, object]
) -> None:
    assert client.post("/api/v1/projects", json=body, headers=alice).status_code == 422
    assert client.get("/api/v1/projects", headers=alice).json() == {
        "items": [],
        "next_cursor": None,
    }


def test_projects_require_a_token(client: TestClient) -> None:
    assert client.get("/api/v1/projects").status_code == 401
    assert client.post("/api/v1/projects", json={"name": "x"}).status_code == 401


def test_the_list_shows_only_my_projects_newest_first(
    client: TestClient, alice: Headers, bob: Headers
) -> None:
    names = [f"p{i}" for i in range(3)]
    for name in names:
        create_project(client, alice, name)
    create_project(client, bob, "bobs")
    listed = client.get("/api/v1/projects", headers=alice).json()
    assert [p["name"] for p in listed["items"]] == list(reversed(names))
    assert listed["next_cursor"] is None


def test_pages_walk_every_project_once(client: TestClient, alice: Headers) -> None:
    made = [create_project(client, alice, f"p{i}")["id"] for i in range(7)]
    seen: list[object] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/projects", params=params, headers=alice).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))


@pytest.mark.parametrize("limit", [0, 101, -1, "many"])
def test_limit_out_of_range_is_422(client: TestClient, alice: Headers, limit: object) -> None:
    assert client.get("/api/v1/projects", params={"limit": limit}, headers=alice).status_code == 422


def test_get_patch_delete_my_project(client: TestClient, alice: Headers) -> None:
    project = create_project(client, alice, "Apollo", description="d")
    url = f"/api/v1/projects/{project['id']}"
    assert client.get(url, headers=alice).json() == project
    patched = client.patch(url, json={"description": "new"}, headers=alice)
    assert patched.status_code == 200
    assert patched.json()["name"] == "Apollo"
    assert patched.json()["description"] == "new"
    assert patched.json()["updated_at"] > str(project["updated_at"])
    assert (
        client.patch(url, json={"name": "Gemini", "description": None}, headers=alice).json()[
            "description"
        ]
        is None
    )
    assert client.delete(url, headers=alice).status_code == 204
    assert client.get(url, headers=alice).status_code == 404
    assert client.delete(url, headers=alice).status_code == 404


@pytest.mark.parametrize("body", [{"name": None}, {"name": ""}, {"owner_id": "x"}, {"id": "x"}])
def test_bad_patches_are_422_and_change_nothing(
    client: TestClient, alice: Headers, body: dict[str, object]
) -> None:
    project = create_project(client, alice, "Apollo")
    url = f"/api/v1/projects/{project['id']}"
    assert client.patch(url, json=body, headers=alice).status_code == 422
    assert client.get(url, headers=alice).json() == project
