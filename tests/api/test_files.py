"""Files over HTTP: upload, download, links, limits, and what is left in storage."""

from __future__ import annotations

import hashlib
import os

from fastapi.testclient import TestClient

from app.context import AppContext
from app.core.config import Settings
from tests.client_fixtures import Headers, fetch_link, files_url, stored_state, upload


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
    download = fetch_link(client, link["url"])
    assert download.status_code == 200
    assert download.content == b"%PDF-1.7 data"
    assert "report.pdf" in download.headers["content-disposition"]


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


def test_bytes_that_look_like_a_boundary_come_back_sha256_equal(
    client: TestClient, alice: Headers, project_id: str
) -> None:
    data = (b"\r\n--" + os.urandom(61) + b"\r\n-\r") * 900
    record = upload(client, alice, project_id, "tricky.bin", data, "application/octet-stream")
    download = client.get(files_url(project_id, f"/{record['id']}/content"), headers=alice)
    assert hashlib.sha256(download.content).hexdigest() == record["sha256"]
    assert download.content == data


def form_body(*parts: tuple[str, str | None, bytes], close: bool = True) -> bytes:
    """A multipart body with boundary `b` of (field name, file name or None, bytes) parts."""
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--b\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + data + b"\r\n"
    return body + (b"--b--\r\n" if close else b"")


FORM = {"Content-Type": "multipart/form-data; boundary=b"}


def test_fields_before_the_file_are_read_and_a_second_file_is_400_storing_nothing(
    client: TestClient, alice: Headers, project_id: str, context: AppContext, settings: Settings
) -> None:
    body = form_body(("note", None, b"hi"), ("file", "a.txt", b"first"))
    response = client.post(files_url(project_id), content=body, headers={**alice, **FORM})
    assert response.status_code == 201, response.text
    assert response.json()["filename"] == "a.txt"
    two = form_body(("file", "a.txt", b"first"), ("file", "b.txt", b"second"))
    response = client.post(files_url(project_id), content=two, headers={**alice, **FORM})
    assert response.status_code == 400
    assert response.json() == {"detail": "Too many files. Maximum number of files is 1."}
    keys, _ = stored_state(context, settings)
    assert len(keys) == 1


def test_a_body_that_ends_inside_its_file_is_400_and_stores_nothing(
    client: TestClient, alice: Headers, project_id: str, context: AppContext, settings: Settings
) -> None:
    cut = form_body(("file", "a.txt", b"x" * 5000), close=False)[:-100]
    response = client.post(files_url(project_id), content=cut, headers={**alice, **FORM})
    assert response.status_code == 400
    assert response.json() == {"detail": "The multipart body ends inside its file."}
    assert stored_state(context, settings) == ([], [])
    assert client.get(files_url(project_id), headers=alice).json()["items"] == []
