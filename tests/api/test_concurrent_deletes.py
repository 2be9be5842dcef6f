"""Deletes of one file or project racing each other: exactly one of them deletes it (204), the
others find it gone (404), on every stack."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fastapi.testclient import TestClient

from tests.client_fixtures import Headers, create_project, files_url, upload

RACERS = 10


def race(client: TestClient, url: str, headers: Headers) -> list[int]:
    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(pool.map(lambda _: client.delete(url, headers=headers), range(RACERS)))
    return sorted(response.status_code for response in responses)


def test_one_of_ten_concurrent_deletes_of_a_file_deletes_it(
    client: TestClient,
    alice: Headers,
    project_id: str,
) -> None:
    file_id = upload(client, alice, project_id, "a.txt", b"hello")["id"]
    statuses = race(client, files_url(project_id, f"/{file_id}"), alice)
    assert statuses == [204] + [404] * (RACERS - 1)
    assert client.get(files_url(project_id), headers=alice).json()["items"] == []


def test_one_of_ten_concurrent_deletes_of_a_project_deletes_it(
    client: TestClient, alice: Headers
) -> None:
    project_id = create_project(client, alice, "Apollo")["id"]
    statuses = race(client, f"/api/v1/projects/{project_id}", alice)
    assert statuses == [204] + [404] * (RACERS - 1)
