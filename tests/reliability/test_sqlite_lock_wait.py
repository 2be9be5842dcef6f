"""A write waiting for SQLite's lock waits off the event loop: a real `hangar serve` on a SQLite
file keeps answering while another connection holds the write lock, and the write completes
once the lock is let go."""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from pathlib import Path

import httpx

from benchmarks.servers import running_server, server_env

API = "/api/v1"
PASSWORD = "correct horse battery"
LOCK_SECONDS = 1.0
POLL_SECONDS = 0.02
LONGEST_GAP_SECONDS = 0.2


def sign_up(client: httpx.Client) -> dict[str, str]:
    body = {"email": "lock@example.com", "password": PASSWORD}
    assert client.post(f"{API}/auth/register", json=body).status_code == 201
    form = {"username": body["email"], "password": PASSWORD}
    token = client.post(f"{API}/auth/login", data=form).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def answer_times(
    base_url: str, path: str, headers: dict[str, str], stop: threading.Event
) -> list[float]:
    """When each answer to `path`, asked every POLL_SECONDS until `stop`, arrived (all 200)."""
    times: list[float] = []
    with httpx.Client(base_url=base_url, headers=headers, timeout=10) as client:
        while not stop.is_set():
            assert client.get(path).status_code == 200
            times.append(time.monotonic())
            time.sleep(POLL_SECONDS)
    return times


def test_a_write_waiting_for_the_lock_does_not_stall_other_requests(tmp_path: Path) -> None:
    database = tmp_path / "app.sqlite"
    env = server_env(
        {
            "APP_ENV": "test",
            "DATABASE_TYPE": "sqlite",
            "STORAGE_TYPE": "local",
            "SQLITE_PATH": database,
            "LOCAL_STORAGE_PATH": tmp_path / "uploads",
            "MIRROR_JOURNAL_PATH": tmp_path / "journal.jsonl",
        }
    )
    with (
        running_server(tmp_path, env, log=tmp_path / "server.log") as server,
        httpx.Client(base_url=server.base_url, timeout=30) as client,
    ):
        headers = sign_up(client)
        stop = threading.Event()
        polls: dict[str, list[float]] = {}

        def poll(path: str) -> None:
            polls[path] = answer_times(server.base_url, path, headers, stop)

        pollers = [
            threading.Thread(target=poll, args=(path,))
            for path in (f"{API}/health", f"{API}/projects")
        ]
        for poller in pollers:
            poller.start()
        time.sleep(0.2)
        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        locked_at = time.monotonic()
        responses: list[httpx.Response] = []
        finished: list[float] = []

        def create() -> None:
            responses.append(
                client.post(f"{API}/projects", json={"name": "Locked"}, headers=headers)
            )
            finished.append(time.monotonic())

        writer = threading.Thread(target=create)
        writer.start()
        time.sleep(LOCK_SECONDS)
        holder.execute("ROLLBACK")
        released_at = time.monotonic()
        holder.close()
        writer.join(timeout=30)
        time.sleep(0.2)
        stop.set()
        for poller in pollers:
            poller.join(timeout=30)

    [response] = responses
    assert response.status_code == 201, response.text
    assert finished[0] >= released_at
    for path, times in polls.items():
        during = [t for t in times if locked_at - 0.5 <= t <= released_at + 0.5]
        gaps = [later - earlier for earlier, later in itertools.pairwise(during)]
        assert len(during) > 10, (path, during)
        assert max(gaps) < LONGEST_GAP_SECONDS, (path, max(gaps))
