"""Registration, login and tokens over HTTP."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from tests.client_fixtures import PASSWORD, login, register


def test_register_returns_the_user_with_a_normalised_email(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/register",
        json={"email": "  Ada@Example.COM ", "password": PASSWORD, "full_name": "Ada"},
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id",
        "email",
        "full_name",
        "is_active",
        "is_verified",
        "is_superuser",
        "created_at",
    }
    assert body["email"] == "ada@example.com"
    assert body["full_name"] == "Ada"
    assert body["is_active"] is True


def test_an_email_registers_once_whatever_its_case(client: TestClient) -> None:
    register(client, "ada@example.com")
    response = client.post(
        "/api/v1/auth/register", json={"email": "ADA@example.com", "password": PASSWORD}
    )
    assert response.status_code == 409
    assert response.json() == {"detail": "A user with this email already exists"}


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-email", "password": PASSWORD},
        {"email": "ada@example.com", "password": "short77"},
        {"email": "ada@example.com", "password": "x" * 1025},
        {"email": "ada@example.com"},
        {"email": "ada@example.com", "password": PASSWORD, "id": "chosen"},
        {"email": "ada@example.com", "password": PASSWORD, "is_superuser": True},
    ],
)
def test_bad_registrations_are_422_and_store_nothing(
    client: TestClient, body: dict[str, object]
) -> None:
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)
    retry = client.post(
        "/api/v1/auth/register", json={"email": "ada@example.com", "password": PASSWORD}
    )
    assert retry.status_code == 201


def test_password_limits_are_inclusive(client: TestClient) -> None:
    for i, password in enumerate(["x" * 8, "y" * 1024]):
        email = f"edge{i}@example.com"
        register(client, email, password)
        login(client, email, password)


def test_login_returns_a_bearer_token_that_opens_me(client: TestClient) -> None:
    register(client, "ada@example.com")
    response = client.post(
        "/api/v1/auth/login", data={"username": "Ada@Example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert body["refresh_token"]
    assert body["refresh_expires_in"] == pytest.approx(30 * 86400, abs=5)
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com"
    assert "password_hash" not in me.json()


def test_unknown_email_and_wrong_password_are_indistinguishable(client: TestClient) -> None:
    register(client, "ada@example.com")
    wrong = client.post(
        "/api/v1/auth/login", data={"username": "ada@example.com", "password": "wrong-password"}
    )
    unknown = client.post(
        "/api/v1/auth/login", data={"username": "who@example.com", "password": "wrong-password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Incorrect email or password"}
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"] == "Bearer"


def test_unknown_email_costs_a_hash_like_a_wrong_password(client: TestClient) -> None:
    register(client, "ada@example.com")

    def median_seconds(username: str) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            client.post("/api/v1/auth/login", data={"username": username, "password": "nope-nope"})
            times.append(time.perf_counter() - start)
        return sorted(times)[2]

    known, unknown = median_seconds("ada@example.com"), median_seconds("who@example.com")
    assert unknown > known / 3, (known, unknown)
