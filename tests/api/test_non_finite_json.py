"""`NaN`, `Infinity` and `-Infinity` are not JSON, though Python's json module reads them: a body
holding one is a 422 naming where it is, on every route that takes a JSON body, never a 500."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.validation import NON_FINITE
from app.main import create_app
from tests.client_fixtures import Headers, create_project, login, register

API = "/api/v1"
TOKENS = ["NaN", "Infinity", "-Infinity"]
ROUTES = {
    "register": (
        "POST",
        "/auth/register",
        '{"email": "x@example.com", "password": %s}',
        "password",
    ),
    "refresh": ("POST", "/auth/refresh", '{"refresh_token": %s}', "refresh_token"),
    "create project": ("POST", "/projects", '{"name": "Apollo", "description": %s}', "description"),
    "patch project": ("PATCH", "/projects/{project}", '{"name": %s}', "name"),
    "patch me": ("PATCH", "/auth/me", '{"full_name": %s}', "full_name"),
    "password change": (
        "POST",
        "/auth/me/password",
        '{"current_password": "correct horse battery", "new_password": %s}',
        "new_password",
    ),
}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    """One app for the module: every request here is refused before it changes anything."""
    settings = Settings(
        _env_file=None, APP_ENV="test", DATABASE_TYPE="memory", STORAGE_TYPE="memory"
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def caller(client: TestClient) -> tuple[Headers, str]:
    register(client, "ada@example.com")
    headers = login(client, "ada@example.com")
    project: str = create_project(client, headers, "Apollo")["id"]  # type: ignore[assignment]
    return headers, project


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES)
def test_a_non_finite_number_is_a_422_naming_its_place(
    client: TestClient,
    caller: tuple[Headers, str],
    route: tuple[str, str, str, str],
    token: str,
) -> None:
    method, path, body, field = route
    headers, project = caller
    response = client.request(
        method,
        API + path.format(project=project),
        content=(body % token).encode(),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 422, response.text
    assert response.json() == {
        "detail": [
            {"type": "json_invalid", "loc": ["body", field], "msg": NON_FINITE, "input": token}
        ]
    }


@pytest.mark.parametrize("body", ["NaN", '[1, {"a": -Infinity}]', '{"name": [Infinity, NaN]}'])
def test_non_finite_numbers_anywhere_in_a_body_are_each_named(
    client: TestClient, caller: tuple[Headers, str], body: str
) -> None:
    response = client.post(
        f"{API}/projects",
        content=body.encode(),
        headers={**caller[0], "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    places = [error["loc"] for error in response.json()["detail"]]
    expected = {
        "NaN": [["body"]],
        '[1, {"a": -Infinity}]': [["body", 1, "a"]],
        '{"name": [Infinity, NaN]}': [["body", "name", 0], ["body", "name", 1]],
    }
    assert places == expected[body]


def test_other_invalid_bodies_keep_fastapis_422(client: TestClient) -> None:
    response = client.post(f"{API}/auth/register", json={"email": "x@example.com", "password": 1.5})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "password"]
    assert response.json()["detail"][0]["type"] == "string_type"
