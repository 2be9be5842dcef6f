"""Refresh tokens, logout, password change and account deletion over HTTP."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.context import AppContext
from app.core.config import Settings
from tests.client_fixtures import (
    PASSWORD,
    Headers,
    create_project,
    files_url,
    register,
    stored_state,
    upload,
)

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/auth/me"


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post(LOGIN, data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


def bearer(tokens: dict[str, str]) -> Headers:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def refresh(client: TestClient, refresh_token: str) -> tuple[int, dict[str, str]]:
    response = client.post(REFRESH, json={"refresh_token": refresh_token})
    return response.status_code, response.json()


def test_refresh_rotates_the_token_and_answers_like_login(client: TestClient) -> None:
    register(client, "ada@example.com")
    first = log_in(client, "ada@example.com")
    status, second = refresh(client, first["refresh_token"])
    assert status == 200
    assert (
        set(second)
        == set(first)
        == {"access_token", "token_type", "expires_in", "refresh_token", "refresh_expires_in"}
    )
    assert second["refresh_token"] != first["refresh_token"]
    assert client.get(ME, headers=bearer(second)).status_code == 200
    status, third = refresh(client, second["refresh_token"])
    assert status == 200
    assert client.get(ME, headers=bearer(third)).status_code == 200


def test_replaying_a_rotated_refresh_token_revokes_the_whole_session(client: TestClient) -> None:
    register(client, "ada@example.com")
    first = log_in(client, "ada@example.com")
    other_device = log_in(client, "ada@example.com")
    _, second = refresh(client, first["refresh_token"])
    status, body = refresh(client, first["refresh_token"])
    assert status == 401
    assert "revoked" in body["detail"]
    assert refresh(client, second["refresh_token"])[0] == 401
    assert client.get(ME, headers=bearer(second)).status_code == 401
    assert client.get(ME, headers=bearer(first)).status_code == 401
    assert client.get(ME, headers=bearer(other_device)).status_code == 200


def test_unknown_or_malformed_refresh_tokens_are_refused(client: TestClient) -> None:
    assert refresh(client, "made-up-token")[0] == 401
    assert client.post(REFRESH, json={"refresh_token": ""}).status_code == 422
    assert client.post(REFRESH, json={}).status_code == 422
    assert client.post(REFRESH, json={"refresh_token": "x" * 513}).status_code == 422


def test_an_access_token_is_not_a_refresh_token(client: TestClient) -> None:
    register(client, "ada@example.com")
    tokens = log_in(client, "ada@example.com")
    assert refresh(client, tokens["access_token"])[0] == 401


def test_logout_revokes_this_session_at_once_and_no_other(client: TestClient) -> None:
    register(client, "ada@example.com")
    phone, laptop = log_in(client, "ada@example.com"), log_in(client, "ada@example.com")
    response = client.post("/api/v1/auth/logout", headers=bearer(phone))
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(ME, headers=bearer(phone)).status_code == 401
    assert refresh(client, phone["refresh_token"])[0] == 401
    assert client.get(ME, headers=bearer(laptop)).status_code == 200
    assert refresh(client, laptop["refresh_token"])[0] == 200


def test_logout_all_revokes_every_session(client: TestClient) -> None:
    register(client, "ada@example.com")
    sessions = [log_in(client, "ada@example.com") for _ in range(3)]
    assert client.post("/api/v1/auth/logout-all", headers=bearer(sessions[0])).status_code == 204
    for tokens in sessions:
        assert client.get(ME, headers=bearer(tokens)).status_code == 401
        assert refresh(client, tokens["refresh_token"])[0] == 401
    assert client.get(ME, headers=bearer(log_in(client, "ada@example.com"))).status_code == 200


def test_profile_updates_change_only_the_name(client: TestClient, alice: Headers) -> None:
    before = client.get(ME, headers=alice).json()
    response = client.patch(ME, json={"full_name": "Alice L."}, headers=alice)
    assert response.status_code == 200
    assert response.json() == {**before, "full_name": "Alice L."}
    for body in (
        {"email": "x@example.com"},
        {"is_active": False},
        {"is_superuser": True},
        {"password_hash": "x"},
    ):
        assert client.patch(ME, json=body, headers=alice).status_code == 422
    assert client.get(ME, headers=alice).json() == {**before, "full_name": "Alice L."}


def test_changing_the_password_needs_the_current_one_and_signs_out_other_sessions(
    client: TestClient,
) -> None:
    register(client, "ada@example.com")
    here, elsewhere = log_in(client, "ada@example.com"), log_in(client, "ada@example.com")
    url = "/api/v1/auth/me/password"
    wrong = client.post(
        url,
        json={"current_password": "not-it-at-all", "new_password": "brand-new-pass"},
        headers=bearer(here),
    )
    assert wrong.status_code == 403
    assert client.get(ME, headers=bearer(elsewhere)).status_code == 200
    assert (
        client.post(
            url, json={"current_password": PASSWORD, "new_password": "short"}, headers=bearer(here)
        ).status_code
        == 422
    )
    ok = client.post(
        url,
        json={"current_password": PASSWORD, "new_password": "brand-new-pass"},
        headers=bearer(here),
    )
    assert ok.status_code == 204
    assert client.get(ME, headers=bearer(here)).status_code == 200
    assert client.get(ME, headers=bearer(elsewhere)).status_code == 401
    assert refresh(client, elsewhere["refresh_token"])[0] == 401
    assert (
        client.post(LOGIN, data={"username": "ada@example.com", "password": PASSWORD}).status_code
        == 401
    )
    log_in(client, "ada@example.com", "brand-new-pass")


def test_deleting_the_account_needs_the_password_and_removes_everything(
    client: TestClient, context: AppContext, settings: Settings, bob: Headers
) -> None:
    register(client, "ada@example.com")
    tokens = log_in(client, "ada@example.com")
    ada = bearer(tokens)
    project = str(create_project(client, ada, "Apollo")["id"])
    upload(client, ada, project, "a.txt", b"secret")
    bobs = str(create_project(client, bob, "Bob's")["id"])
    upload(client, bob, bobs, "b.txt", b"bob")

    assert (
        client.request("DELETE", ME, json={"password": "wrong-password"}, headers=ada).status_code
        == 403
    )
    assert client.get(files_url(project), headers=ada).status_code == 200
    response = client.request("DELETE", ME, json={"password": PASSWORD}, headers=ada)
    assert response.status_code == 204

    assert client.get(ME, headers=ada).status_code == 401
    assert refresh(client, tokens["refresh_token"])[0] == 401
    assert (
        client.post(LOGIN, data={"username": "ada@example.com", "password": PASSWORD}).status_code
        == 401
    )
    backends = context.backends
    assert backends.user_repo.get_user_by_email("ada@example.com") is None
    assert backends.project_repo.get_project(project) is None
    assert backends.file_repo.list_files(project, limit=10).items == []
    keys, _ = stored_state(context, settings)
    assert all(key.startswith(f"{bobs}/") for key in keys) and len(keys) == 1
    assert client.get(files_url(bobs), headers=bob).json()["items"][0]["filename"] == "b.txt"
    register(client, "ada@example.com")
