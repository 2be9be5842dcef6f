"""Write contention on the embedded engines: DuckDB retries a conflict and surfaces one that
persists as BackendUnavailable (a 503 with a clear message), never as an engine error; SQLite
connections of two "processes" on one file wait for each other instead of failing as locked."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from app.dependencies import build_backends
from app.errors import BackendUnavailable
from app.models import utc_now
from app.repositories.sql import SqlProjectRepository
from app.repositories.sqlite import SQLiteDatabase
from tests.conftest import SettingsFactory

THREADS = 8
WRITES = 25


def test_duckdb_conflicting_updates_of_one_row_succeed_or_say_busy(
    make_settings: SettingsFactory,
) -> None:
    backends = build_backends(make_settings(database="duckdb"))
    repo = backends.project_repo
    project = repo.create_project("owner", "contended")
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def hammer(worker: int) -> None:
        for n in range(WRITES):
            change = {"name": f"{worker}-{n}", "updated_at": utc_now()}
            try:
                repo.update_project(project.model_copy(update=change))
                outcome = "updated"
            except BackendUnavailable as error:
                assert error.status_code == 503 and "try again" in error.detail
                outcome = "busy"
            with lock:
                outcomes[outcome] += 1

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            for done in [pool.submit(hammer, worker) for worker in range(THREADS)]:
                done.result()  # any other exception fails the test here
    finally:
        backends.close()
    assert sum(outcomes.values()) == THREADS * WRITES
    assert outcomes["updated"] > 0


def test_sqlite_writers_of_two_processes_wait_instead_of_failing(
    make_settings: SettingsFactory,
) -> None:
    path = make_settings(database="sqlite").SQLITE_PATH
    engines = [SQLiteDatabase(path), SQLiteDatabase(path)]  # as two workers would open it
    repos = [SqlProjectRepository(engine) for engine in engines]

    def write(worker: int) -> None:
        for n in range(WRITES):
            repos[worker % 2].create_project(f"owner-{worker}", f"p{n}")

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            for done in [pool.submit(write, worker) for worker in range(THREADS)]:
                done.result()
        counted = engines[0].execute("SELECT COUNT(*) FROM projects")[0][0]
    finally:
        for engine in engines:
            engine.close()
    assert counted == THREADS * WRITES
