"""Failed logins are throttled per account and per address, through the repositories."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.client_fixtures import PASSWORD, login, register
from tests.conftest import API_STACKS, SettingsFactory

LOGIN = "/api/v1/auth/login"


@pytest.fixture(params=API_STACKS, ids=lambda stack: "+".join(stack))
def strict_client(
    request: pytest.FixtureRequest, make_settings: SettingsFactory
) -> Iterator[TestClient]:
    database, storage = request.param
    settings = make_settings(
        database=database,
        storage=storage,
        LOGIN_MAX_FAILURES_PER_ACCOUNT=3,
        LOGIN_MAX_FAILURES_PER_ADDRESS=8,
        LOGIN_FAILURE_WINDOW_SECONDS=600,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def attempt(client: TestClient, email: str, password: str) -> tuple[int, dict[str, str]]:
    response = client.post(LOGIN, data={"username": email, "password": password})
    return response.status_code, dict(response.headers)


def test_an_account_locks_after_its_failures_and_says_when_to_retry(
    strict_client: TestClient,
) -> None:
    register(strict_client, "ada@example.com")
    for _ in range(3):
        assert attempt(strict_client, "ada@example.com", "wrong-password")[0] == 401
    status, headers = attempt(strict_client, "ada@example.com", PASSWORD)
    assert status == 429
    assert 590 <= int(headers["retry-after"]) <= 600
    response = strict_client.post(LOGIN, data={"username": "ADA@example.com", "password": PASSWORD})
    assert response.status_code == 429
    assert "try again" in response.json()["detail"]


def test_a_success_resets_the_account_counter(strict_client: TestClient) -> None:
    register(strict_client, "ada@example.com")
    for _ in range(2):
        assert attempt(strict_client, "ada@example.com", "wrong-password")[0] == 401
    assert attempt(strict_client, "ada@example.com", PASSWORD)[0] == 200
    for _ in range(2):
        assert attempt(strict_client, "ada@example.com", "wrong-password")[0] == 401
    assert attempt(strict_client, "ada@example.com", PASSWORD)[0] == 200


def test_one_address_trying_many_accounts_is_stopped(strict_client: TestClient) -> None:
    register(strict_client, "victim@example.com")
    for i in range(8):
        assert attempt(strict_client, f"guess{i}@example.com", "wrong-password")[0] == 401
    status, headers = attempt(strict_client, "victim@example.com", PASSWORD)
    assert status == 429
    assert int(headers["retry-after"]) > 0


def test_unknown_email_and_wrong_password_get_the_same_answer(strict_client: TestClient) -> None:
    register(strict_client, "ada@example.com")
    wrong = strict_client.post(
        LOGIN, data={"username": "ada@example.com", "password": "wrong-password"}
    )
    unknown = strict_client.post(
        LOGIN, data={"username": "nobody@example.com", "password": "wrong-password"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


CONFIRMATIONS = {
    "password change": (
        "POST",
        "/api/v1/auth/me/password",
        lambda password: {"current_password": password, "new_password": "a new password"},
    ),
    "account deletion": ("DELETE", "/api/v1/auth/me", lambda password: {"password": password}),
}


@pytest.mark.parametrize("confirmation", CONFIRMATIONS.values(), ids=CONFIRMATIONS)
def test_wrong_password_confirmations_are_throttled_like_logins(
    strict_client: TestClient, confirmation: tuple[str, str, Callable[[str], dict[str, str]]]
) -> None:
    """A stolen access token buys no more guesses at the password than a login form."""
    method, url, body = confirmation
    register(strict_client, "ada@example.com")
    headers = login(strict_client, "ada@example.com")
    for _ in range(3):
        response = strict_client.request(method, url, json=body("wrong-password"), headers=headers)
        assert response.status_code == 403
    refused = strict_client.request(method, url, json=body(PASSWORD), headers=headers)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 600
    assert attempt(strict_client, "ada@example.com", PASSWORD)[0] == 429
