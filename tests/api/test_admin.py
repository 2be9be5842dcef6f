"""The admin routes over HTTP on every database backend: superusers only, every action
logged, an administrator's own account out of their reach."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.context import AppContext
from app.core.config import Settings
from tests.client_fixtures import PASSWORD, Headers, create_project, login, register, upload
from tests.conftest import API_STACKS, SettingsFactory

ACCOUNT_STACKS = [*API_STACKS, ("sqlite", "local")]
ADMIN = "/api/v1/admin/users"
ROOT = "root@example.com"


@pytest.fixture(params=ACCOUNT_STACKS, ids=lambda stack: "+".join(stack))
def settings(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> Settings:
    database, storage = request.param
    return make_settings(database=database, storage=storage)


@pytest.fixture
def root(client: TestClient, context: AppContext) -> Headers:
    """An administrator, made as `hangar create-admin` makes one (tests/integration)."""
    user_id = str(register(client, ROOT)["id"])
    context.backends.user_repo.update_user_fields(user_id, {"is_superuser": True})
    return login(client, ROOT)


def user_id_of(client: TestClient, headers: Headers) -> str:
    return str(client.get("/api/v1/auth/me", headers=headers).json()["id"])


def test_every_admin_route_is_403_for_ordinary_users_and_401_without_a_token(
    client: TestClient, alice: Headers, bob: Headers
) -> None:
    target = user_id_of(client, bob)
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", ADMIN, {}),
        ("GET", f"{ADMIN}/{target}", {}),
        ("PATCH", f"{ADMIN}/{target}", {"json": {"is_active": False}}),
        ("DELETE", f"{ADMIN}/{target}", {}),
    ]
    for method, url, extra in calls:
        refused = client.request(method, url, headers=alice, **extra)
        assert (refused.status_code, refused.json()) == (403, {"detail": "Administrators only"})
        assert client.request(method, url, **extra).status_code == 401
    assert client.get("/api/v1/auth/me", headers=bob).status_code == 200


def test_users_are_listed_in_cursor_pages_and_filtered_by_email_prefix(
    client: TestClient, root: Headers
) -> None:
    for name in ("ann", "andy", "bea", "anton"):
        register(client, f"{name}@example.com")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get(ADMIN, params=params, headers=root).json()
        seen += [user["email"] for user in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"{n}@example.com" for n in ("anton", "bea", "andy", "ann")] + [ROOT]
    assert "is_superuser" in page["items"][0]

    first = client.get(ADMIN, params={"limit": 1, "email_prefix": "AN"}, headers=root).json()
    assert [u["email"] for u in first["items"]] == ["anton@example.com"]
    rest = client.get(
        ADMIN,
        params={"limit": 5, "email_prefix": "AN", "cursor": first["next_cursor"]},
        headers=root,
    ).json()
    assert [u["email"] for u in rest["items"]] == ["andy@example.com", "ann@example.com"]
    assert rest["next_cursor"] is None
    # A cursor belongs to its filter.
    other = client.get(
        ADMIN, params={"email_prefix": "b", "cursor": first["next_cursor"]}, headers=root
    )
    assert other.status_code == 400


def test_one_user_is_shown_and_an_unknown_one_is_404(
    client: TestClient, root: Headers, bob: Headers
) -> None:
    target = user_id_of(client, bob)
    shown = client.get(f"{ADMIN}/{target}", headers=root)
    assert shown.status_code == 200
    assert shown.json()["email"] == "bob@example.com"
    for method in ("GET", "DELETE"):
        missing = client.request(method, f"{ADMIN}/nobody", headers=root)
        assert (missing.status_code, missing.json()) == (404, {"detail": "User not found"})
    patch = client.patch(f"{ADMIN}/nobody", json={"is_active": False}, headers=root)
    assert patch.status_code == 404


def test_deactivation_takes_effect_on_the_next_request_and_reactivation_undoes_it(
    client: TestClient, root: Headers, bob: Headers, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="app.admin")
    target = user_id_of(client, bob)
    off = client.patch(f"{ADMIN}/{target}", json={"is_active": False}, headers=root)
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert client.get("/api/v1/auth/me", headers=bob).status_code == 401
    refused = client.post(
        "/api/v1/auth/login", data={"username": "bob@example.com", "password": PASSWORD}
    )
    assert refused.status_code == 401
    on = client.patch(f"{ADMIN}/{target}", json={"is_active": True}, headers=root)
    assert on.json()["is_active"] is True
    # Signed out everywhere when deactivated: back in with a new login only.
    assert client.get("/api/v1/auth/me", headers=bob).status_code == 401
    login(client, "bob@example.com")
    assert f"admin {user_id_of(client, root)} ({ROOT}) set is_active=False on user {target}" in (
        caplog.text
    )


def test_an_admin_can_promote_and_demote_others_but_not_themselves(
    client: TestClient, root: Headers, bob: Headers
) -> None:
    target = user_id_of(client, bob)
    promoted = client.patch(f"{ADMIN}/{target}", json={"is_superuser": True}, headers=root)
    assert promoted.json()["is_superuser"] is True
    assert client.get(ADMIN, headers=bob).status_code == 200
    me = user_id_of(client, root)
    for change in ({"is_superuser": False}, {"is_active": False}):
        refused = client.patch(f"{ADMIN}/{me}", json=change, headers=root)
        assert refused.status_code == 409
        assert refused.json() == {"detail": "You cannot deactivate or demote your own account"}
    deleted = client.delete(f"{ADMIN}/{me}", headers=root)
    assert deleted.status_code == 409
    assert client.get(ADMIN, headers=root).status_code == 200
    for bad in ({}, {"is_active": None}, {"email": "x@example.com"}):
        assert client.patch(f"{ADMIN}/{target}", json=bad, headers=root).status_code == 422


def test_deleting_a_user_removes_their_projects_files_and_sessions(
    client: TestClient,
    context: AppContext,
    root: Headers,
    bob: Headers,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="app.admin")
    target = user_id_of(client, bob)
    project = str(create_project(client, bob, "Doomed")["id"])
    upload(client, bob, project, "a.txt", b"abc")
    assert client.delete(f"{ADMIN}/{target}", headers=root).status_code == 204
    assert client.get("/api/v1/auth/me", headers=bob).status_code == 401
    assert client.get(f"{ADMIN}/{target}", headers=root).status_code == 404
    assert context.backends.project_repo.get_project(project) is None
    assert list(context.backends.file_storage.list_keys()) == []
    assert f"deleted user {target} (bob@example.com)" in caplog.text
    register(client, "bob@example.com")
