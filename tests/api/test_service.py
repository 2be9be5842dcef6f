"""Health, documentation and error shapes."""

from __future__ import annotations

import shutil

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.context import AppContext
from app.main import create_app
from tests.conftest import SettingsFactory


def test_health_touches_database_and_storage(client: TestClient) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "storage": "ok"}


def test_health_names_a_storage_that_is_gone(make_settings: SettingsFactory) -> None:
    settings = make_settings(database="duckdb", storage="local")
    with TestClient(create_app(settings)) as client:
        shutil.rmtree(settings.LOCAL_STORAGE_PATH)
        response = client.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "ok", "storage": "unavailable"}


def test_health_names_a_database_that_is_gone(make_settings: SettingsFactory) -> None:
    settings = make_settings(database="sqlite", storage="local")
    with TestClient(create_app(settings)) as client:
        context: AppContext = client.app.state.context  # type: ignore[attr-defined]
        context.backends.close()
        settings.SQLITE_PATH.unlink()
        settings.SQLITE_PATH.parent.rmdir()
        response = client.get("/api/v1/health")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"


def test_openapi_documents_every_route_with_its_models(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths = schema["paths"]
    expected = {
        ("post", "/api/v1/auth/register"),
        ("post", "/api/v1/auth/login"),
        ("get", "/api/v1/auth/me"),
        ("get", "/api/v1/health"),
        ("post", "/api/v1/projects"),
        ("get", "/api/v1/projects"),
        ("get", "/api/v1/projects/{project_id}"),
        ("patch", "/api/v1/projects/{project_id}"),
        ("delete", "/api/v1/projects/{project_id}"),
        ("post", "/api/v1/projects/{project_id}/files"),
        ("get", "/api/v1/projects/{project_id}/files"),
        ("get", "/api/v1/projects/{project_id}/files/{file_id}"),
        ("get", "/api/v1/projects/{project_id}/files/{file_id}/content"),
        ("get", "/api/v1/projects/{project_id}/files/{file_id}/url"),
        ("delete", "/api/v1/projects/{project_id}/files/{file_id}"),
        ("get", "/api/v1/storage/{key}"),
    }
    documented = {(method, path) for path, ops in paths.items() for method in ops}
    assert expected <= documented
    for method, path in expected:
        assert paths[path][method].get("summary"), (method, path)
    assert {"UserOut", "ProjectOut", "FileOut", "PresignedUrlOut"} <= set(
        schema["components"]["schemas"]
    )
    assert client.get("/docs").status_code == 200


def test_docs_answer_after_the_api_routes(client: TestClient) -> None:
    """create_app moves FastAPI's docs routes behind the API's, so requests skip them."""
    docs = ["/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"]
    for path in docs:
        assert client.get(path).status_code == 200, path
    paths = [getattr(route, "path", None) for route in client.app.router.routes]
    assert paths[-len(docs) :] == docs


def test_malformed_json_is_a_clear_422(client: TestClient) -> None:
    response = client.post(
        "/api/v1/auth/register", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "detail" in response.json()


def test_unknown_routes_are_json_404(client: TestClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_prod_refuses_a_default_or_short_secret(make_settings: SettingsFactory) -> None:
    for secret in (None, "short-secret"):
        extra = {"SECRET_KEY": secret} if secret else {}
        with pytest.raises(ValidationError, match="SECRET_KEY"):
            make_settings(APP_ENV="prod", **extra)
    assert make_settings(APP_ENV="prod", SECRET_KEY="k" * 32).APP_ENV == "prod"


def test_invalid_backend_names_say_what_is_allowed(make_settings: SettingsFactory) -> None:
    with pytest.raises(ValidationError) as error:
        make_settings(database="postgres")
    message = str(error.value)
    assert "DATABASE_TYPE" in message
    assert "'duckdb'" in message and "'sqlite'" in message and "'memory'" in message
