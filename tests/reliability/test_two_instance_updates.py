"""Two `hangar serve` processes on one database (SQLite, DynamoDB): a PATCH of a project's name
through one and of its description through the other, at once, both land, in every round."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.reliability.test_parent_races import SHARED_STACKS, servers, stack_settings

API = "/api/v1"
ROUNDS = 15
PASSWORD = "correct horse battery"


@pytest.mark.parametrize("database", SHARED_STACKS)
def test_patches_of_one_project_through_two_servers_keep_both_changes(
    request: pytest.FixtureRequest, tmp_path: Path, database: str
) -> None:
    values = stack_settings(request, tmp_path, database)
    with servers(tmp_path, values, count=2) as (one, two):
        first = httpx.Client(base_url=one.base_url + API, timeout=15)
        second = httpx.Client(base_url=two.base_url + API, timeout=15)
        first.post("/auth/register", json={"email": "pat@example.com", "password": PASSWORD})
        form = {"username": "pat@example.com", "password": PASSWORD}
        headers = {
            "Authorization": f"Bearer {first.post('/auth/login', data=form).json()['access_token']}"
        }
        project = first.post("/projects", json={"name": "Apollo"}, headers=headers).json()["id"]

        def patch(client: httpx.Client, body: dict[str, str], start: threading.Barrier) -> int:
            start.wait()
            return client.patch(f"/projects/{project}", json=body, headers=headers).status_code

        lost = []
        with ThreadPoolExecutor(2) as pool:
            for n in range(ROUNDS):
                start = threading.Barrier(2)
                answers = [
                    pool.submit(patch, first, {"name": f"name {n}"}, start),
                    pool.submit(patch, second, {"description": f"description {n}"}, start),
                ]
                assert [answer.result() for answer in answers] == [200, 200]
                stored = second.get(f"/projects/{project}", headers=headers).json()
                if (stored["name"], stored["description"]) != (f"name {n}", f"description {n}"):
                    lost.append(n)
        assert lost == []
        assert stored["version"] == 1 + 2 * ROUNDS
