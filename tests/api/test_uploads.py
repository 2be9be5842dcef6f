"""Direct uploads over HTTP on every stack: tickets, parts sent straight to storage (S3's
presigned URLs, or Hangar's own signed ones), completion once only, and nothing listed or
left behind by an upload that is not completed."""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import replace
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from app.context import AppContext
from app.core.config import Settings
from app.routers.uploads.services import UploadTickets
from tests.client_fixtures import Headers, files_url, stored_state
from tests.conftest import API_STACKS, TEST_BASE_URL, SettingsFactory

PART = 5 * 1024 * 1024


@pytest.fixture(params=API_STACKS, ids=lambda stack: "+".join(stack))
def settings(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> Settings:
    database, storage = request.param
    return make_settings(
        database=database, storage=storage, MAX_UPLOAD_BYTES=3 * PART, UPLOAD_PART_BYTES=PART
    )


def uploads_url(project_id: str, suffix: str = "") -> str:
    return f"/api/v1/projects/{project_id}/uploads{suffix}"


def start(
    client: TestClient, headers: Headers, project_id: str, size: int, **extra: object
) -> dict[str, object]:
    response = client.post(
        uploads_url(project_id),
        json={"filename": "big.bin", "size": size, **extra},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    ticket: dict[str, object] = response.json()
    return ticket


def put(client: TestClient, url: str, data: bytes) -> httpx.Response:
    """PUT to a part URL with no token: Hangar's through the app, S3's as a browser would."""
    if url.startswith(TEST_BASE_URL):
        return client.put(url, content=data)
    return httpx.put(url, content=data)


def send(client: TestClient, ticket: dict[str, object], data: bytes) -> None:
    offset = 0
    for part in ticket["parts"]:  # type: ignore[attr-defined]
        response = put(client, part["url"], data[offset : offset + part["size"]])
        assert response.is_success, response.text
        offset += part["size"]


def complete(
    client: TestClient, headers: Headers, project_id: str, ticket: dict[str, object]
) -> httpx.Response:
    return client.post(uploads_url(project_id, f"/{ticket['upload_id']}/complete"), headers=headers)


def listed(client: TestClient, headers: Headers, project_id: str) -> list[object]:
    items: list[object] = client.get(files_url(project_id), headers=headers).json()["items"]
    return items


@pytest.mark.parametrize("size", [0, 1000, 2 * PART + 17], ids=["empty", "single", "multipart"])
def test_a_direct_upload_is_listed_once_complete_and_downloads_sha256_equal(
    client: TestClient, alice: Headers, project_id: str, size: int
) -> None:
    data = os.urandom(size)
    ticket = start(client, alice, project_id, size, sha256=hashlib.sha256(data).hexdigest())
    assert len(ticket["parts"]) == max(1, -(-size // PART))  # type: ignore[arg-type]
    send(client, ticket, data)
    assert listed(client, alice, project_id) == []
    response = complete(client, alice, project_id, ticket)
    assert response.status_code == 201, response.text
    record = response.json()
    assert (record["filename"], record["size"]) == ("big.bin", size)
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    download = client.get(files_url(project_id, f"/{record['id']}/content"), headers=alice)
    assert hashlib.sha256(download.content).hexdigest() == record["sha256"]
    assert [item["id"] for item in listed(client, alice, project_id)] == [record["id"]]  # type: ignore[index]


def test_parts_can_be_sent_again_and_in_any_order(
    client: TestClient, alice: Headers, project_id: str
) -> None:
    data = os.urandom(2 * PART + 10)
    sha256 = hashlib.sha256(data).hexdigest()
    ticket = start(client, alice, project_id, len(data), sha256=sha256)
    first, second, third = ticket["parts"]  # type: ignore[misc]
    assert put(client, second["url"], os.urandom(PART)).is_success  # replaced below
    assert put(client, first["url"], data[:PART]).is_success
    assert put(client, third["url"], data[2 * PART :]).is_success
    assert put(client, second["url"], data[PART : 2 * PART]).is_success
    assert put(client, first["url"], data[:PART]).is_success
    response = complete(client, alice, project_id, ticket)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["sha256"] == sha256
    download = client.get(files_url(project_id, f"/{record['id']}/content"), headers=alice)
    assert download.content == data


def test_completing_twice_is_409_and_after_a_delete_404(
    client: TestClient, alice: Headers, project_id: str
) -> None:
    ticket = start(client, alice, project_id, 5)
    send(client, ticket, b"hello")
    record = complete(client, alice, project_id, ticket).json()
    again = complete(client, alice, project_id, ticket)
    assert again.status_code == 409
    assert again.json() == {"detail": "This upload is already completed"}
    url = str(ticket["parts"][0]["url"])  # type: ignore[index]
    if url.startswith(TEST_BASE_URL):  # moto answers a 500 where S3 says NoSuchUpload
        assert put(client, url, b"HELLO").status_code == 404  # a late retry changes nothing
    download = client.get(files_url(project_id, f"/{record['id']}/content"), headers=alice)
    assert download.content == b"hello"
    client.delete(files_url(project_id, f"/{record['id']}"), headers=alice)
    assert complete(client, alice, project_id, ticket).status_code == 404
    assert listed(client, alice, project_id) == []


def test_a_wrong_size_or_hash_is_400_and_records_nothing(
    client: TestClient, alice: Headers, project_id: str, context: AppContext, settings: Settings
) -> None:
    short = start(client, alice, project_id, 10)
    assert complete(client, alice, project_id, short).status_code == 400  # no part sent
    hashed = start(client, alice, project_id, 5, sha256="0" * 64)
    send(client, hashed, b"hello")
    response = complete(client, alice, project_id, hashed)
    assert response.status_code == 400
    assert "sha256" in response.json()["detail"]
    assert listed(client, alice, project_id) == []
    assert stored_state(context, settings)[0] == []


def test_a_part_of_another_size_than_signed_is_refused(
    client: TestClient, alice: Headers, project_id: str, settings: Settings
) -> None:
    ticket = start(client, alice, project_id, 5)
    url = ticket["parts"][0]["url"]  # type: ignore[index]
    if settings.STORAGE_TYPE != "s3":  # S3 checks the signed Content-Length itself
        assert put(client, url, b"hello!").status_code == 400
        assert put(client, url, b"hell").status_code == 400
    assert complete(client, alice, project_id, ticket).status_code == 400


def test_over_the_limit_is_413_before_any_ticket(
    client: TestClient, alice: Headers, project_id: str
) -> None:
    response = client.post(
        uploads_url(project_id), json={"filename": "x", "size": 3 * PART + 1}, headers=alice
    )
    assert response.status_code == 413


def test_tickets_of_another_project_or_user_are_404_and_tampered_ones_403(
    client: TestClient, alice: Headers, bob: Headers, project_id: str
) -> None:
    other = client.post("/api/v1/projects", json={"name": "other"}, headers=alice).json()["id"]
    ticket = start(client, alice, project_id, 5)
    send(client, ticket, b"hello")
    assert complete(client, alice, other, ticket).status_code == 404
    assert complete(client, bob, project_id, ticket).status_code == 404
    assert (
        client.post(
            uploads_url(project_id), json={"filename": "x", "size": 1}, headers=bob
        ).status_code
        == 404
    )
    upload_id = str(ticket["upload_id"])
    tampered = upload_id[:-1] + ("0" if upload_id[-1] != "0" else "1")
    path = uploads_url(project_id, f"/{tampered}/complete")
    assert client.post(path, headers=alice).status_code == 403
    assert complete(client, alice, project_id, ticket).status_code == 201


def test_expired_tickets_and_part_urls_are_403(
    client: TestClient, alice: Headers, project_id: str, settings: Settings, context: AppContext
) -> None:
    ticket = start(client, alice, project_id, 5)
    send(client, ticket, b"hello")
    tickets = UploadTickets(settings.SECRET_KEY.get_secret_value())
    opened = tickets.read(str(ticket["upload_id"]))
    expired = tickets.upload_id(replace(opened, expires=int(time.time()) - 1))
    response = client.post(uploads_url(project_id, f"/{expired}/complete"), headers=alice)
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid or expired upload id"}
    url = context.backends.file_storage.presign_part(
        opened.key, opened.storage_upload_id, 1, 5, expires_in=1
    )
    if url.startswith(TEST_BASE_URL):  # S3 judges its own links
        time.sleep(1.1)
        assert put(client, url, b"hello").status_code == 403


def test_an_aborted_upload_leaves_no_parts_and_cannot_complete(
    client: TestClient, alice: Headers, project_id: str, context: AppContext, settings: Settings
) -> None:
    ticket = start(client, alice, project_id, PART + 1)
    put(client, ticket["parts"][0]["url"], os.urandom(PART))  # type: ignore[index]
    path = uploads_url(project_id, f"/{ticket['upload_id']}")
    assert client.delete(path, headers=alice).status_code == 204
    assert complete(client, alice, project_id, ticket).status_code == 404
    assert stored_state(context, settings) == ([], [])
    if settings.STORAGE_TYPE == "s3":
        s3 = context.backends.file_storage
        assert s3.client.list_multipart_uploads(Bucket=s3.bucket).get("Uploads", []) == []  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "settings",
    [stack for stack in API_STACKS if stack[1] != "s3"],  # S3 checks its own signatures
    ids=lambda stack: "+".join(stack),
    indirect=True,
)
def test_a_tampered_part_url_is_403(client: TestClient, alice: Headers, project_id: str) -> None:
    ticket = start(client, alice, project_id, 5)
    url = str(ticket["parts"][0]["url"])  # type: ignore[index]
    assert url.startswith(TEST_BASE_URL), "a part URL Hangar signs and serves itself"
    parts = urlsplit(url)
    bent = f"{parts.path}?{parts.query.replace('size=5', 'size=6')}"
    assert client.put(bent, content=b"hello!").status_code == 403
