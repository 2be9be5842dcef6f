"""What every response carries, and what no response may carry."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.context import AppContext
from app.core.config import Settings
from app.main import create_app
from tests.client_fixtures import Headers, files_url, upload
from tests.conftest import SettingsFactory


def test_every_response_carries_the_security_headers(client: TestClient, alice: Headers) -> None:
    for response in (
        client.get("/api/v1/health"),
        client.get("/api/v1/auth/me", headers=alice),
        client.get("/api/v1/auth/me"),
        client.get("/api/v1/nowhere"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"


def test_downloads_are_sandboxed_attachments(
    client: TestClient, alice: Headers, project_id: str
) -> None:
    record = upload(
        client, alice, project_id, "page.html", b"<script>alert(1)</script>", "text/html"
    )
    response = client.get(files_url(project_id, f"/{record['id']}/content"), headers=alice)
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "sandbox" in response.headers["content-security-policy"]
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_no_response_reveals_hashes_keys_or_paths(
    client: TestClient, alice: Headers, project_id: str, context: AppContext, settings: Settings
) -> None:
    record = upload(client, alice, project_id, "a.txt", b"data")
    stored = context.backends.file_repo.get_file(project_id, str(record["id"]))
    user = context.backends.user_repo.get_user_by_email("alice@example.com")
    assert stored is not None and user is not None
    bodies = [
        client.get("/api/v1/auth/me", headers=alice).text,
        client.get(files_url(project_id), headers=alice).text,
        client.get(files_url(project_id, f"/{record['id']}"), headers=alice).text,
        client.post(files_url(project_id), files={"file": ("b.txt", b"x")}, headers=alice).text,
        json.dumps(client.get("/openapi.json").json()),
    ]
    for body in bodies:
        assert user.password_hash not in body
        assert "password_hash" not in body
        assert "storage_key" not in body
        assert stored.storage_key not in body
        assert str(settings.LOCAL_STORAGE_PATH) not in body


@pytest.fixture
def cors_client(make_settings: SettingsFactory) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(CORS_ORIGINS="https://app.example"))) as client:
        yield client


def test_cors_answers_only_configured_origins(cors_client: TestClient, client: TestClient) -> None:
    preflight = {"Access-Control-Request-Method": "GET"}
    allowed = cors_client.options(
        "/api/v1/health", headers={"Origin": "https://app.example", **preflight}
    )
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    denied = cors_client.options(
        "/api/v1/health", headers={"Origin": "https://evil.example", **preflight}
    )
    assert "access-control-allow-origin" not in denied.headers
    plain = client.get("/api/v1/health", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in plain.headers
