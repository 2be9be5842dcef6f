"""create_app adds every router's routes to the app itself rather than `include_router` them
(an included router costs each request a second resolution): the API must be the same."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.core.openapi import operation_ids
from app.dependencies import get_context
from app.main import API_PREFIX, ROUTERS, create_app


def test_the_api_is_documented_as_include_router_documents_it() -> None:
    included = FastAPI(generate_unique_id_function=operation_ids())
    for router in ROUTERS:
        included.include_router(router, prefix=API_PREFIX)
    expected = included.openapi()
    schema = create_app().openapi()
    assert schema["paths"] == expected["paths"]
    assert schema["components"] == expected["components"]


def test_dependency_overrides_reach_the_routes() -> None:
    """`app.dependency_overrides`, FastAPI's way to swap a dependency in a test, still works."""

    async def refuse() -> None:
        raise HTTPException(status_code=418, detail="overridden")

    app = create_app(Settings(_env_file=None, DATABASE_TYPE="memory", STORAGE_TYPE="memory"))
    app.dependency_overrides[get_context] = refuse
    account = {"email": "ann@example.com", "password": "correct horse battery"}
    with TestClient(app) as client:
        response = client.post(f"{API_PREFIX}/auth/register", json=account)
    assert (response.status_code, response.json()) == (418, {"detail": "overridden"})
