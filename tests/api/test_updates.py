"""What an update changes: only the fields it was sent, atomically, on every stack; a project's
ETag makes a PATCH conditional (If-Match)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from app.context import AppContext
from app.routers.auth.interface import UserUpdate
from app.routers.auth.services import authenticate, update_me
from tests.client_fixtures import PASSWORD, Headers, create_project, login, register

ROUNDS = 15
NEW_PASSWORD = "a brand new passphrase"


def test_concurrent_patches_of_name_and_of_description_keep_both_changes(
    client: TestClient, alice: Headers
) -> None:
    url = f"/api/v1/projects/{create_project(client, alice, 'Apollo')['id']}"

    def patch(body: dict[str, str], start: threading.Barrier) -> None:
        start.wait()
        response = client.patch(url, json=body, headers=alice)
        assert response.status_code == 200, response.text

    lost = []
    with ThreadPoolExecutor(2) as pool:
        for n in range(ROUNDS):
            start = threading.Barrier(2)
            both = [
                pool.submit(patch, {"name": f"name {n}"}, start),
                pool.submit(patch, {"description": f"description {n}"}, start),
            ]
            for done in both:
                done.result()
            stored = client.get(url, headers=alice).json()
            if (stored["name"], stored["description"]) != (f"name {n}", f"description {n}"):
                lost.append(n)
    assert lost == []


def test_a_profile_update_read_before_a_password_change_does_not_bring_the_old_password_back(
    client: TestClient, context: AppContext
) -> None:
    register(client, "ada@example.com")
    users = context.backends.user_repo
    # The slow PATCH /auth/me authenticated first: it holds the user as read then.
    stale = authenticate("ada@example.com", PASSWORD, repo=users, hasher=context.hasher)
    owner = login(client, "ada@example.com")
    changed = client.post(
        "/api/v1/auth/me/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=owner,
    )
    assert changed.status_code == 204, changed.text
    assert client.post("/api/v1/auth/logout-all", headers=owner).status_code == 204

    updated = update_me(stale, UserUpdate(full_name="Ada L."), repo=users)

    assert updated.full_name == "Ada L."
    old = client.post(
        "/api/v1/auth/login", data={"username": "ada@example.com", "password": PASSWORD}
    )
    assert old.status_code == 401
    login(client, "ada@example.com", NEW_PASSWORD)


def test_a_project_carries_an_etag_that_every_patch_changes(
    client: TestClient, alice: Headers
) -> None:
    project = create_project(client, alice, "Apollo")
    url = f"/api/v1/projects/{project['id']}"
    read = client.get(url, headers=alice)
    etag = read.headers["ETag"]
    assert etag == f'"{read.json()["version"]}"'
    patched = client.patch(url, json={"name": "Gemini"}, headers=alice)
    assert patched.status_code == 200
    assert patched.headers["ETag"] not in ("", etag)
    assert patched.headers["ETag"] == client.get(url, headers=alice).headers["ETag"]


def test_if_match_applies_a_patch_only_to_the_version_it_names(
    client: TestClient, alice: Headers
) -> None:
    url = f"/api/v1/projects/{create_project(client, alice, 'Apollo')['id']}"
    stale = client.get(url, headers=alice).headers["ETag"]
    fresh = client.patch(url, json={"description": "first"}, headers=alice).headers["ETag"]

    refused = client.patch(url, json={"name": "lost"}, headers={**alice, "If-Match": stale})
    assert refused.status_code == 412
    assert "changed" in refused.json()["detail"]
    assert client.get(url, headers=alice).json()["name"] == "Apollo"

    applied = client.patch(url, json={"name": "kept"}, headers={**alice, "If-Match": fresh})
    assert applied.status_code == 200, applied.text
    assert applied.json()["name"] == "kept"
    assert applied.json()["description"] == "first"
    assert applied.headers["ETag"] not in (stale, fresh)


def test_if_match_on_someone_elses_project_is_404_like_a_missing_one(
    client: TestClient, alice: Headers, bob: Headers
) -> None:
    url = f"/api/v1/projects/{create_project(client, alice, 'Apollo')['id']}"
    etag = client.get(url, headers=alice).headers["ETag"]
    stolen = client.patch(url, json={"name": "mine"}, headers={**bob, "If-Match": etag})
    assert stolen.status_code == 404


def test_if_match_star_is_any_version_and_a_weak_or_foreign_tag_none(
    client: TestClient, alice: Headers
) -> None:
    url = f"/api/v1/projects/{create_project(client, alice, 'Apollo')['id']}"
    etag = client.get(url, headers=alice).headers["ETag"]
    for tag in (f"W/{etag}", '"someone else\'s"', f"{etag}, {etag}"):
        refused = client.patch(url, json={"name": "x"}, headers={**alice, "If-Match": tag})
        assert refused.status_code == 412, tag
    anything = client.patch(url, json={"name": "kept"}, headers={**alice, "If-Match": "*"})
    assert anything.status_code == 200
    assert client.get(url, headers=alice).json()["name"] == "kept"
