"""Write contention on the embedded engines: DuckDB retries a conflict and surfaces one that
persists as BackendUnavailable (a 503 with a clear message), never as an engine error; SQLite
connections of two "processes" on one file wait for each other instead of failing as locked."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.backends import open_backends
from app.errors import BackendUnavailable
from app.models import utc_now
from app.repositories.sql import SqlProjectRepository, SqlUserRepository
from app.repositories.sqlite import SQLiteDatabase
from tests.conftest import SettingsFactory
from tests.contract.test_repositories import add_owner

THREADS = 8
WRITES = 25


def test_duckdb_conflicting_updates_of_one_row_succeed_or_say_busy(
    make_settings: SettingsFactory,
) -> None:
    backends = open_backends(make_settings(database="duckdb"))
    repo = backends.project_repo
    add_owner(backends.user_repo, "owner")
    project = repo.create_project("owner", "contended")
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def hammer(worker: int) -> None:
        for n in range(WRITES):
            change = {"name": f"{worker}-{n}", "updated_at": utc_now()}
            try:
                repo.update_project_fields(project.id, "owner", change)
                outcome = "updated"
            except BackendUnavailable as error:
                assert error.status_code == 503 and "try again" in error.detail
                outcome = "busy"
            with lock:
                outcomes[outcome] += 1

    try:
        run_workers(THREADS, hammer)  # any other exception fails the test here
    finally:
        backends.close()
    assert sum(outcomes.values()) == THREADS * WRITES
    assert outcomes["updated"] > 0


@pytest.fixture
def two_processes(make_settings: SettingsFactory) -> Iterator[list[SqlProjectRepository]]:
    """The project tables of one SQLite file, as two workers open it."""
    path = make_settings(database="sqlite").SQLITE_PATH
    engines = [SQLiteDatabase(path), SQLiteDatabase(path)]
    for owner_id in ["owner", *(f"owner-{worker}" for worker in range(THREADS))]:
        add_owner(SqlUserRepository(engines[0]), owner_id)
    yield [SqlProjectRepository(engine) for engine in engines]
    for engine in engines:
        engine.close()


def run_workers(count: int, work: Callable[[int], None]) -> None:
    """`work(worker)` for each worker in its own thread; any exception fails the test."""
    with ThreadPoolExecutor(count) as pool:
        for done in [pool.submit(work, worker) for worker in range(count)]:
            done.result()


def test_sqlite_writers_of_two_processes_wait_instead_of_failing(
    two_processes: list[SqlProjectRepository],
) -> None:
    def write(worker: int) -> None:
        for n in range(WRITES):
            two_processes[worker % 2].create_project(f"owner-{worker}", f"p{n}")

    run_workers(THREADS, write)
    counted = two_processes[0].db.execute("SELECT COUNT(*) FROM projects")[0][0]
    assert counted == THREADS * WRITES


def test_sqlite_field_updates_of_two_processes_on_one_row_all_land(
    two_processes: list[SqlProjectRepository],
) -> None:
    project = two_processes[0].create_project("owner", "contended")
    fields = ("name", "description")

    def write(worker: int) -> None:
        for n in range(WRITES):
            change = {fields[worker]: f"{worker}-{n}", "updated_at": utc_now()}
            two_processes[worker].update_project_fields(project.id, "owner", change)

    run_workers(2, write)
    stored = two_processes[1].get_project(project.id)
    assert stored is not None
    assert (stored.name, stored.description) == (f"0-{WRITES - 1}", f"1-{WRITES - 1}")
    assert stored.version == 1 + 2 * WRITES
