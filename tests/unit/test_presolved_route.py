"""`PresolvedRoute` solves Hangar's dependencies itself unless the app has overrides: the API
must answer the same either way, errors and their order (401 before 422) included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.dependencies import get_context
from app.main import create_app
from app.routing import Plan, PresolvedRoute

API = "/api/v1"
ACCOUNT = {"email": "ann@example.com", "password": "correct horse battery"}


def answers(settings: Settings, *, fastapi_path: bool) -> list[tuple[Any, ...]]:
    """Status and body of a fixed series of requests; ids and tokens are only checked for
    their presence, since they differ between runs."""
    app = create_app(settings)
    if fastapi_path:
        app.dependency_overrides[get_context] = get_context
    seen: list[tuple[Any, ...]] = []
    ids: dict[str, str] = {}
    with TestClient(app) as client:

        def record(method: str, path: str, **kwargs: Any) -> Any:
            response = client.request(method, API + path, **kwargs)
            body: Any = response.content
            if response.headers.get("content-type") == "application/json":
                body = response.json()
                if response.status_code < 300 and isinstance(body, dict):
                    body = sorted(body)
            for name, value in ids.items():
                path = path.replace(value, name)
            seen.append(
                (method, path, response.status_code, body, response.headers.get("www-authenticate"))
            )
            return response

        record("POST", "/auth/register", json=ACCOUNT)
        token = record(
            "POST",
            "/auth/login",
            data={"username": ACCOUNT["email"], "password": ACCOUNT["password"]},
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        bad = {"Authorization": "Bearer not-a-token"}
        for headers in ({}, bad, auth):
            record("POST", "/projects", json={"name": "Apollo"}, headers=headers)
            record("POST", "/projects", json={"nom": "Apollo"}, headers=headers)
            record("POST", "/projects", content=b"{not json", headers=headers)
            record("GET", "/projects?limit=0", headers=headers)
            record("GET", "/auth/me", headers=headers)
        project = client.get(API + "/projects", headers=auth).json()["items"][0]["id"]
        ids["{project}"] = project
        for query in ("", "?limit=1", "?limit=101", "?limit=x", "?cursor=forged", "?unknown=1"):
            record("GET", f"/projects{query}", headers=auth)
        record("GET", f"/projects/{project}", headers=auth)
        record("GET", "/projects/missing", headers=auth)
        record("PATCH", f"/projects/{project}", json={"description": "Moon"}, headers=auth)
        record("PATCH", f"/projects/{project}", json={"owner_id": "x"}, headers=auth)
        upload = record(
            "POST", f"/projects/{project}/files", files={"file": ("a.txt", b"abc")}, headers=auth
        )
        record("POST", f"/projects/{project}/files", files={"other": ("a", b"a")}, headers=auth)
        record("POST", f"/projects/{project}/files", files={"file": ("a", b"a")}, headers=bad)
        file_id = ids["{file}"] = upload.json()["id"]
        record("GET", f"/projects/{project}/files?limit=1", headers=auth)
        record("GET", f"/projects/{project}/files/{file_id}", headers=auth)
        record("GET", f"/projects/{project}/files/{file_id}/content", headers=auth)
        record("GET", f"/projects/{project}/files/{file_id}/url?expires_in=0", headers=auth)
        record("GET", f"/projects/{project}/files/missing", headers=auth)
        record("DELETE", f"/projects/{project}/files/{file_id}", headers=auth)
        record("DELETE", f"/projects/{project}", headers=auth)
        record("POST", "/auth/logout", headers=auth)
        record("GET", "/auth/me", headers=auth)
    return seen


@pytest.mark.parametrize("database", ["memory", "sqlite"])
def test_both_paths_answer_alike(make_settings: Any, database: str, tmp_path: Path) -> None:
    fast, slow = (
        answers(
            make_settings(database=database, SQLITE_PATH=tmp_path / f"{name}.sqlite3"),
            fastapi_path=name == "slow",
        )
        for name in ("fast", "slow")
    )
    assert fast == slow
    assert {status for *_, status, _, _ in fast} >= {200, 201, 204, 400, 401, 404, 422}


def test_every_route_of_hangar_but_the_login_form_has_a_plan() -> None:
    routes = [route for route in create_app().routes if isinstance(route, PresolvedRoute)]
    without = {route.path for route in routes if Plan.of(route.dependant) is None}
    assert without == {f"{API}/auth/login"}
