"""Hostile uploads and links: odd names, oversize bodies, tampered or stale presigned URLs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from app.context import AppContext
from app.core.config import Settings
from tests.client_fixtures import LIMIT, Headers, files_url, stored_state, upload
from tests.conftest import API_STACKS


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


HANGAR_SIGNED_STACKS = [stack for stack in API_STACKS if stack[1] in {"local", "memory"}]


def tampered(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    path = changes.pop("path", parts.path)
    return f"{path}?{urlencode(query)}"


@pytest.mark.parametrize("settings", HANGAR_SIGNED_STACKS, indirect=True, ids="+".join)
def test_tampered_or_expired_links_are_403(
    client: TestClient, alice: Headers, project_id: str
) -> None:
    """Links of local and memory storage are Hangar's own; S3 checks its signatures itself."""
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


@pytest.mark.parametrize(
    ("extra", "files", "message"),
    [
        ({f"f{i}": "x" for i in range(20)}, None, "Too many fields"),
        ({"password": "x" * (65 * 1024)}, None, "maximum size"),
        ({}, {"a": ("a", b"x"), "b": ("b", b"y")}, "Too many files"),
    ],
)
def test_form_parts_are_capped(
    client: TestClient,
    extra: dict[str, str],
    files: dict[str, tuple[str, bytes]] | None,
    message: str,
) -> None:
    """The caps hold while the form is read, before any token is checked (a multipart body is
    read at all only with a bearer token present, so the last case carries one)."""
    data = {"username": "alice@example.com", "password": "wrong-password", **extra}
    headers = {"Authorization": "Bearer unchecked"} if files else {}
    response = client.post("/api/v1/auth/login", data=data, files=files, headers=headers)
    assert response.status_code == 400
    assert message in response.json()["detail"]
