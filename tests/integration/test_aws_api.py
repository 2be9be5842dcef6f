"""The whole API on the production stack (DynamoDB + S3): network-bound backends run in the
threadpool, and download links are served by S3 itself."""

from __future__ import annotations

import httpx
from fastapi.testclient import TestClient

from app.main import create_app
from tests.conftest import SettingsFactory

PASSWORD = "correct horse battery"


def test_a_user_works_with_projects_and_files_end_to_end(make_settings: SettingsFactory) -> None:
    settings = make_settings(database="dynamodb", storage="s3")
    with TestClient(create_app(settings)) as client:
        assert client.get("/api/v1/health").json()["status"] == "ok"
        register = {"email": "ada@example.com", "password": PASSWORD}
        assert client.post("/api/v1/auth/register", json=register).status_code == 201
        login = {"username": "ada@example.com", "password": PASSWORD}
        token = client.post("/api/v1/auth/login", data=login).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}

        ids = [
            client.post("/api/v1/projects", json={"name": f"p{i}"}, headers=auth).json()["id"]
            for i in range(3)
        ]
        first = client.get("/api/v1/projects", params={"limit": 2}, headers=auth).json()
        rest = client.get(
            "/api/v1/projects", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth
        ).json()
        assert [p["id"] for p in first["items"] + rest["items"]] == ids[::-1]
        assert rest["next_cursor"] is None

        files = f"/api/v1/projects/{ids[0]}/files"
        data = b"%PDF-1.7 hangar" * 1000
        upload = client.post(
            files, files={"file": ("report.pdf", data, "application/pdf")}, headers=auth
        )
        assert upload.status_code == 201, upload.text
        file_id = upload.json()["id"]
        assert client.get(f"{files}/{file_id}/content", headers=auth).content == data
        link = client.get(f"{files}/{file_id}/url", headers=auth).json()["url"]
        assert httpx.get(link).content == data

        assert client.delete(f"/api/v1/projects/{ids[0]}", headers=auth).status_code == 204
        context = client.app.state.context  # type: ignore[attr-defined]
        assert list(context.backends.file_storage.list_keys()) == []
        assert context.backends.file_repo.list_files(ids[0], limit=10).items == []
