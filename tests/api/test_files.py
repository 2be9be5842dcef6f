"""Files over HTTP: upload, download, links, limits, and what is left in storage."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from app.core.config import Settings
from app.dependencies import AppContext
from tests.api.conftest import Headers

LIMIT = 64 * 1024  # MAX_UPLOAD_BYTES in these tests


def files_url(project_id: str, suffix: str = "") -> str:
    return f"/api/v1/projects/{project_id}/files{suffix}"


def upload(
    client: TestClient,
    headers: Headers,
    project_id: str,
    name: str,
    data: bytes,
    content_type: str = "text/plain",
) -> dict[str, object]:
    response = client.post(
        files_url(project_id), files={"file": (name, data, content_type)}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def stored_state(context: AppContext, settings: Settings) -> tuple[list[str], list[str]]:
    """Every storage key, and every file on disk (temp files included) for local storage."""
    keys = list(context.backends.file_storage.list_keys())
    root = Path(settings.LOCAL_STORAGE_PATH)
    on_disk = sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []
    return keys, on_disk


def test_upload_returns_metadata_with_size_and_sha256(
    client: TestClient, alice: Headers, project_id: str
) -> None:
    data = b"hello hangar\n" * 100
    record = upload(client, alice, project_id, "notes.txt", data)
    assert set(record) == {
        "id",
        "project_id",
        "filename",
        "content_type",
        "size",
        "sha256",
        "created_at",
    }
    assert record["project_id"] == project_id
    assert record["filename"] == "notes.txt"
    assert record["content_type"] == "text/plain"
    assert record["size"] == len(data)
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert client.get(files_url(project_id, f"/{record['id']}"), headers=alice).json() == record


def test_download_streams_the_exact_bytes_as_an_attachment(
    client: TestClient, alice: Headers, project_id: str
) -> None:
    data = bytes(range(256)) * 200
    record = upload(client, alice, project_id, "blob.bin", data, "application/octet-stream")
    response = client.get(files_url(project_id, f"/{record['id']}/content"), headers=alice)
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-disposition"].startswith("attachment;")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-length"] == str(len(data))


def test_an_empty_file_uploads_and_downloads(
    client: TestClient, alice: Headers, project_id: str
) -> None:
    record = upload(client, alice, project_id, "empty", b"")
    assert record["size"] == 0
    assert (
        client.get(files_url(project_id, f"/{record['id']}/content"), headers=alice).content == b""
    )


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/shadow", "shadow"),
        ("C:\\Windows\\evil.exe", "evil.exe"),
        ("..", "file"),
        ("naïve résumé.pdf", "naïve résumé.pdf"),
    ],
)
def test_client_filenames_are_metadata_only(
    client: TestClient,
    alice: Headers,
    project_id: str,
    context: AppContext,
    settings: Settings,
    sent: str,
    stored: str,
) -> None:
    record = upload(client, alice, project_id, sent, b"data")
    assert record["filename"] == stored
    keys, _ = stored_state(context, settings)
    assert keys == [f"{project_id}/{record['id']}"]
    response = client.get(files_url(project_id, f"/{record['id']}/content"), headers=alice)
    disposition = response.headers["content-disposition"]
    assert "\n" not in disposition
    assert disposition.count('"') == 2
    assert "filename*=UTF-8''" in disposition


def test_files_list_newest_first_with_pages(
    client: TestClient, alice: Headers, project_id: str
) -> None:
    made = [upload(client, alice, project_id, f"f{i}", b"x")["id"] for i in range(5)]
    first = client.get(files_url(project_id), params={"limit": 2}, headers=alice).json()
    assert [f["id"] for f in first["items"]] == made[::-1][:2]
    seen = [f["id"] for f in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get(
            files_url(project_id), params={"limit": 2, "cursor": cursor}, headers=alice
        ).json()
        seen += [f["id"] for f in page["items"]]
        cursor = page["next_cursor"]
    assert seen == made[::-1]
    assert (
        client.get(files_url(project_id), params={"cursor": "forged"}, headers=alice).status_code
        == 400
    )
    assert (
        client.get(files_url(project_id), params={"limit": 101}, headers=alice).status_code == 422
    )


def test_a_file_over_the_limit_is_413_and_leaves_nothing(
    client: TestClient, alice: Headers, project_id: str, context: AppContext, settings: Settings
) -> None:
    response = client.post(
        files_url(project_id), files={"file": ("big", b"x" * (LIMIT + 1))}, headers=alice
    )
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    assert stored_state(context, settings) == ([], [])
    assert client.get(files_url(project_id), headers=alice).json()["items"] == []
    assert upload(client, alice, project_id, "exact", b"x" * LIMIT)["size"] == LIMIT


def test_a_body_over_the_cap_is_413_with_or_without_content_length(
    client: TestClient, alice: Headers, project_id: str, context: AppContext, settings: Settings
) -> None:
    huge = b"x" * (LIMIT + 2 * 1024 * 1024)
    declared = client.post(files_url(project_id), files={"file": ("big", huge)}, headers=alice)
    assert declared.status_code == 413
    assert "detail" in declared.json()

    def chunks() -> Iterator[bytes]:
        boundary_head = (
            b'--B\r\nContent-Disposition: form-data; name="file"; filename="big"\r\n\r\n'
        )
        yield boundary_head
        for _ in range(40):
            yield b"x" * (64 * 1024)
        yield b"\r\n--B--\r\n"

    chunked = client.post(
        files_url(project_id),
        content=chunks(),
        headers={**alice, "Content-Type": "multipart/form-data; boundary=B"},
    )
    assert chunked.status_code == 413
    assert "detail" in chunked.json()
    assert stored_state(context, settings) == ([], [])


def test_uploads_into_someone_elses_project_are_404_and_store_nothing(
    client: TestClient,
    alice: Headers,
    bob: Headers,
    project_id: str,
    context: AppContext,
    settings: Settings,
) -> None:
    response = client.post(files_url(project_id), files={"file": ("x", b"data")}, headers=bob)
    assert response.status_code == 404
    assert stored_state(context, settings) == ([], [])


def test_someone_elses_files_are_404_by_any_path(
    client: TestClient, alice: Headers, bob: Headers, project_id: str
) -> None:
    record = upload(client, alice, project_id, "secret.txt", b"secret")
    bobs_project = client.post("/api/v1/projects", json={"name": "mine"}, headers=bob).json()["id"]
    for project in (project_id, bobs_project):
        for suffix in ("", "/content", "/url"):
            assert (
                client.get(files_url(project, f"/{record['id']}{suffix}"), headers=bob).status_code
                == 404
            )
        assert client.delete(files_url(project, f"/{record['id']}"), headers=bob).status_code == 404
    assert (
        client.get(files_url(project_id, f"/{record['id']}/content"), headers=alice).content
        == b"secret"
    )


def test_presigned_links_download_without_a_token(
    client: TestClient, alice: Headers, project_id: str
) -> None:
    record = upload(client, alice, project_id, "report.pdf", b"%PDF-1.7 data")
    response = client.get(
        files_url(project_id, f"/{record['id']}/url"), params={"expires_in": 600}, headers=alice
    )
    assert response.status_code == 200
    link = response.json()
    assert set(link) == {"url", "expires_at"}
    download = client.get(link["url"])
    assert download.status_code == 200
    assert download.content == b"%PDF-1.7 data"
    assert "report.pdf" in download.headers["content-disposition"]


def tampered(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    path = changes.pop("path", parts.path)
    return f"{path}?{urlencode(query)}"


def test_tampered_or_expired_links_are_403(
    client: TestClient, alice: Headers, project_id: str, settings: Settings
) -> None:
    if settings.STORAGE_TYPE not in {"local", "memory"}:
        pytest.skip("links signed by Hangar itself")
    first = upload(client, alice, project_id, "a.txt", b"a")
    second = upload(client, alice, project_id, "b.txt", b"b")
    url = client.get(files_url(project_id, f"/{first['id']}/url"), headers=alice).json()["url"]
    query = parse_qs(urlsplit(url).query)
    other_key_path = f"/api/v1/storage/{project_id}/{second['id']}"
    bad_links = [
        tampered(url, signature="0" * 64),
        tampered(url, expires=str(int(query["expires"][0]) + 3600)),
        tampered(url, filename="other.txt"),
        f"{other_key_path}?{urlsplit(url).query}",
    ]
    for link in bad_links:
        response = client.get(link)
        assert response.status_code == 403, link
        assert response.json() == {"detail": "Invalid or expired link"}
    assert client.post(url).status_code == 405
    short = client.get(
        files_url(project_id, f"/{first['id']}/url"), params={"expires_in": 1}, headers=alice
    ).json()
    time.sleep(2.1)
    assert client.get(short["url"]).status_code == 403


@pytest.mark.parametrize("expires_in", [0, 604_801, -1])
def test_link_lifetimes_beyond_seven_days_are_422(
    client: TestClient, alice: Headers, project_id: str, expires_in: int
) -> None:
    record = upload(client, alice, project_id, "a.txt", b"a")
    response = client.get(
        files_url(project_id, f"/{record['id']}/url"),
        params={"expires_in": expires_in},
        headers=alice,
    )
    assert response.status_code == 422


def test_deleting_a_file_removes_metadata_and_bytes(
    client: TestClient, alice: Headers, project_id: str, context: AppContext, settings: Settings
) -> None:
    record = upload(client, alice, project_id, "a.txt", b"a")
    assert (
        client.delete(files_url(project_id, f"/{record['id']}"), headers=alice).status_code == 204
    )
    assert client.get(files_url(project_id, f"/{record['id']}"), headers=alice).status_code == 404
    assert (
        client.get(files_url(project_id, f"/{record['id']}/content"), headers=alice).status_code
        == 404
    )
    assert stored_state(context, settings) == ([], [])


def test_deleting_a_project_deletes_its_files(
    client: TestClient, alice: Headers, project_id: str, context: AppContext, settings: Settings
) -> None:
    other = client.post("/api/v1/projects", json={"name": "keep"}, headers=alice).json()["id"]
    for i in range(3):
        upload(client, alice, project_id, f"f{i}", b"bytes")
    kept = upload(client, alice, other, "kept", b"kept")
    assert client.delete(f"/api/v1/projects/{project_id}", headers=alice).status_code == 204
    keys, _ = stored_state(context, settings)
    assert keys == [f"{other}/{kept['id']}"]
    assert context.backends.file_repo.list_files(project_id, limit=10).items == []
    assert client.get(files_url(project_id), headers=alice).status_code == 404
