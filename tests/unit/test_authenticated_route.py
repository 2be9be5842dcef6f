"""Hangar's routes authenticate in their route class (`AuthenticatedRoute`) instead of taking
the `Authenticated` dependency: they must be documented and answer as a route that takes the
dependency does, which `declared` does as the oracle, and no route of the class may be reached
without a token."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.dependencies import Authenticated, AuthenticatedRoute, Caller
from app.main import API_PREFIX, create_app


async def declared(caller: Authenticated) -> dict[str, Any]:
    return {"email": caller.user.email}


async def by_route_class(request: Request) -> dict[str, Any]:
    return {"email": Caller.of(request).user.email}


def memory_app() -> FastAPI:
    return create_app(Settings(_env_file=None, DATABASE_TYPE="memory", STORAGE_TYPE="memory"))


def app_with_both() -> FastAPI:
    app = memory_app()
    app.router.add_api_route("/declared", declared)
    app.router.add_api_route(
        "/by-route-class", by_route_class, route_class_override=AuthenticatedRoute
    )
    return app


def test_the_docs_are_those_of_the_dependency() -> None:
    """The same operation twice, once declared the usual way: only its 401 is new."""
    oracle, ours = memory_app(), memory_app()
    oracle.router.add_api_route("/who", declared, name="who")
    ours.router.add_api_route(
        "/who", by_route_class, name="who", route_class_override=AuthenticatedRoute
    )
    expected = oracle.openapi()["paths"]["/who"]["get"]
    documented = ours.openapi()["paths"]["/who"]["get"]
    assert expected["security"] == [{"OAuth2PasswordBearer": []}]
    expected["responses"] = {"401": documented["responses"]["401"], **expected["responses"]}
    assert documented == expected
    schemes = oracle.openapi()["components"]["securitySchemes"]
    assert ours.openapi()["components"]["securitySchemes"] == schemes


def test_exactly_the_routes_that_authenticate_are_documented_so() -> None:
    app = create_app()
    schema = app.openapi()
    routes = [route for route in app.routes if isinstance(route, APIRoute)]
    assert any(isinstance(route, AuthenticatedRoute) for route in routes)
    for route in routes:
        if not route.include_in_schema:
            continue
        for method in route.methods:
            operation = schema["paths"][route.path_format][method.lower()]
            if isinstance(route, AuthenticatedRoute):
                assert operation["security"] == [{"OAuth2PasswordBearer": []}], route.path
                assert "401" in operation["responses"], route.path
            else:
                assert "security" not in operation, route.path


@pytest.fixture(scope="module")
def client() -> Any:
    with TestClient(app_with_both()) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def tokens(client: TestClient) -> dict[str, str]:
    """A live access token and one whose session was revoked."""
    account = {"email": "ann@example.com", "password": "correct horse battery"}
    assert client.post(f"{API_PREFIX}/auth/register", json=account).status_code == 201
    form = {"username": account["email"], "password": account["password"]}
    live, revoked = (
        client.post(f"{API_PREFIX}/auth/login", data=form).json()["access_token"] for _ in "ab"
    )
    logout = client.post(
        f"{API_PREFIX}/auth/logout", headers={"Authorization": f"Bearer {revoked}"}
    )
    assert logout.status_code == 204
    return {"token": live, "revoked": revoked}


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-jwt",
        "bearer {token}",
        "Bearer {token}",
        "Bearer {token}x",
        "Bearer {revoked}",
    ],
)
def test_answers_are_those_of_the_dependency(
    client: TestClient, tokens: dict[str, str], authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization.format(**tokens)}
    expected = client.get("/declared", headers=headers)
    answer = client.get("/by-route-class", headers=headers)
    assert (answer.status_code, answer.json()) == (expected.status_code, expected.json())
    assert answer.headers.get("WWW-Authenticate") == expected.headers.get("WWW-Authenticate")


def test_every_route_of_the_class_refuses_a_request_without_a_token() -> None:
    app = memory_app()
    routes = [route for route in app.routes if isinstance(route, AuthenticatedRoute)]
    with TestClient(app) as client:
        for route in routes:
            path = route.path_format.format(project_id="p", file_id="f")
            for method in route.methods:
                response = client.request(method, path)
                assert response.status_code == 401, (method, path)
                assert response.json() == {"detail": "Not authenticated"}


def test_an_upload_without_a_token_is_refused_before_its_body_is_read() -> None:
    """FastAPI reads a form body before it solves the dependencies: a 1 GiB upload would have
    been spooled to disk for a caller with no account."""
    app = memory_app()

    async def upload(headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
        reads = 0
        sent: list[int] = []

        async def receive() -> dict[str, Any]:
            nonlocal reads
            reads += 1
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                sent.append(message["status"])

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": f"{API_PREFIX}/projects/p/files",
            "raw_path": f"{API_PREFIX}/projects/p/files".encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"content-type", b"multipart/form-data; boundary=x"), *headers],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
        }
        async with app.router.lifespan_context(app):
            await app(scope, receive, send)
        return sent[0], reads

    assert asyncio.run(upload([])) == (401, 0)
    status, reads = asyncio.run(upload([(b"authorization", b"Bearer not-a-jwt")]))
    assert (status, reads) == (401, 0)


def test_caller_of_a_request_outside_the_route_class_says_so() -> None:
    app = FastAPI()
    app.router.add_api_route("/who", by_route_class)
    with TestClient(app) as client, pytest.raises(RuntimeError, match="not an AuthenticatedRoute"):
        client.get("/who")
