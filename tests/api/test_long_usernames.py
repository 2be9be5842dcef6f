"""A login whose username is far longer than any address fails like any unknown email, on
every backend, however the backend limits its keys (DynamoDB: 2,048 bytes)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.client_fixtures import PASSWORD, register

UNKNOWN = {"detail": "Incorrect email or password"}


@pytest.mark.parametrize(("length", "character"), [(10_240, "a"), (60_000, "a"), (10_240, "é")])
def test_a_login_with_a_huge_username_answers_401_like_an_unknown_email(
    client: TestClient, length: int, character: str
) -> None:
    register(client, "ada@example.com")
    unknown = client.post(
        "/api/v1/auth/login", data={"username": "nobody@example.com", "password": PASSWORD}
    )
    username = character * (length - len("@example.com")) + "@example.com"
    for _ in range(2):  # the second one meets the failure counted by the first
        response = client.post(
            "/api/v1/auth/login", data={"username": username, "password": PASSWORD}
        )
        assert (response.status_code, response.json()) == (401, UNKNOWN)
        assert response.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"]
    assert unknown.json() == UNKNOWN
