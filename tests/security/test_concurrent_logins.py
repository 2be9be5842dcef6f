"""Wrong passwords sent all at once to two real `hangar serve` processes sharing one database:
each attempt is counted before its password is checked, so no more than the limit are ever
checked (401) and every other one is refused (429), across instances."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from benchmarks.servers import Server, running_server, server_env
from tests.client_fixtures import PASSWORD

API = "/api/v1"
LIMIT = 5
GUESSES = 30
EMAIL = "ada@example.com"


@pytest.fixture(params=["sqlite", "dynamodb"])
def instances(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Server]]:
    """Two servers on one database: a SQLite file, or DynamoDB tables on the moto server."""
    settings: dict[str, object] = {
        "APP_ENV": "test",
        "DATABASE_TYPE": request.param,
        "LOGIN_MAX_FAILURES_PER_ACCOUNT": LIMIT,
    }
    if request.param == "sqlite":
        settings |= {
            "STORAGE_TYPE": "local",
            "SQLITE_PATH": tmp_path / "app.sqlite3",
            "LOCAL_STORAGE_PATH": tmp_path / "uploads",
        }
    else:
        from tests.aws import aws_overrides

        overrides = aws_overrides(request)
        settings |= {"STORAGE_TYPE": "s3"} | {k: v for k, v in overrides.items() if v is not None}
    env = server_env(settings)
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                running_server(tmp_path / f"i{n}", env, log=tmp_path / f"server{n}.log")
            )
            for n in range(2)
        ]


def test_concurrent_wrong_passwords_get_no_more_than_the_limit_checked(
    instances: list[Server],
) -> None:
    first = instances[0].base_url
    registered = httpx.post(
        f"{first}{API}/auth/register", json={"email": EMAIL, "password": PASSWORD}
    )
    assert registered.status_code == 201, registered.text
    start = threading.Barrier(GUESSES)

    def guess(n: int) -> int:
        base = instances[n % len(instances)].base_url
        with httpx.Client(base_url=base, timeout=60) as client:
            start.wait()
            form = {"username": EMAIL, "password": f"wrong-password-{n}"}
            return client.post(f"{API}/auth/login", data=form).status_code

    with ThreadPoolExecutor(max_workers=GUESSES) as pool:
        statuses = Counter(pool.map(guess, range(GUESSES)))
    assert statuses == {401: LIMIT, 429: GUESSES - LIMIT}
    right = httpx.post(f"{first}{API}/auth/login", data={"username": EMAIL, "password": PASSWORD})
    assert right.status_code == 429
    assert int(right.headers["retry-after"]) > 0
