"""Rows become domain models once per database: equal rows share one frozen model, the cache
stays bounded, and threads clearing it never break another's read."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from app.models import Project, User
from app.repositories import sql
from app.repositories.sql import KNOWN_ROWS_PER_TABLE, SqlProjectRepository, to_text
from app.repositories.sqlite import SQLiteDatabase
from tests.contract.test_repositories import T0


def row(i: int, name: str = "Apollo") -> tuple[str | int | None, ...]:
    return (f"p{i}", "owner", name, None, to_text(T0), to_text(T0), 1)


def user(i: int) -> User:
    return User(
        id=f"u{i:03}",
        email=f"u{i}@example.com",
        password_hash="x",
        created_at=T0 + timedelta(seconds=i),
    )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SQLiteDatabase]:
    database = SQLiteDatabase(tmp_path / "app.sqlite")
    yield database
    database.close()


def test_equal_rows_share_one_model_and_a_changed_row_gets_its_own(db: SQLiteDatabase) -> None:
    table = SqlProjectRepository.table
    first, same = table.to_models([row(1), row(1)], db)
    assert first is same is table.to_model(row(1), db)
    assert first == Project(id="p1", owner_id="owner", name="Apollo", created_at=T0, updated_at=T0)
    renamed = table.to_model(row(1, "Artemis"), db)
    assert renamed.name == "Artemis" and first.name == "Apollo"


def test_the_cache_starts_over_instead_of_growing_with_the_table(db: SQLiteDatabase) -> None:
    table = SqlProjectRepository.table
    rows = [row(i) for i in range(KNOWN_ROWS_PER_TABLE + 100)]
    for start in range(0, len(rows), 21):
        page = table.to_models(rows[start : start + 21], db)
        assert [p.id for p in page] == [r[0] for r in rows[start : start + 21]]
    assert len(db.known_rows[table.name]) <= KNOWN_ROWS_PER_TABLE


def test_a_result_mixing_known_and_new_rows_survives_the_cache_starting_over(
    db: SQLiteDatabase,
) -> None:
    table = SqlProjectRepository.table
    table.to_models([row(i) for i in range(KNOWN_ROWS_PER_TABLE - 5)], db)  # nearly full
    mixed = [row(0), row(1), *(row(KNOWN_ROWS_PER_TABLE + i) for i in range(19))]
    assert [p.id for p in table.to_models(mixed, db)] == [r[0] for r in mixed]


def test_a_whole_table_is_validated_without_filling_the_cache(db: SQLiteDatabase) -> None:
    table = SqlProjectRepository.table
    everything = [row(i) for i in range(2 * KNOWN_ROWS_PER_TABLE)]
    assert [p.id for p in table.to_models(everything, db)] == [r[0] for r in everything]
    assert len(db.known_rows.get(table.name, {})) <= KNOWN_ROWS_PER_TABLE


def test_two_databases_with_the_same_row_do_not_share_its_model(tmp_path: Path) -> None:
    first, second = (SQLiteDatabase(tmp_path / f"{name}.sqlite") for name in ("a", "b"))
    try:
        users = [sql.SqlUserRepository(first), sql.SqlUserRepository(second)]
        for repo in users:
            repo.add_user(user(1))
        a, b = (repo.get_user("u001") for repo in users)
        assert a == b
        assert a is not b
        assert users[0].get_user("u001") is a  # still one model per row within a database
    finally:
        first.close()
        second.close()


def test_a_cache_cleared_by_another_thread_never_breaks_a_read(
    db: SQLiteDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tiny cache, so that nearly every page overfills it and clears it for the others.
    monkeypatch.setattr(sql, "KNOWN_ROWS_PER_TABLE", 8)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch often, so a clear lands inside a read
    users = sql.SqlUserRepository(db)
    for i in range(60):
        users.add_user(user(i))
    errors: list[BaseException] = []
    deadline = time.monotonic() + 2.0

    def read(offset: int) -> None:
        try:
            while time.monotonic() < deadline and not errors:
                after = None
                while True:
                    page = users.list_users(limit=3 + offset, after=after)
                    if page.next_key is None:
                        break
                    after = page.next_key
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=read, args=(i,)) for i in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        sys.setswitchinterval(interval)
    assert not errors, repr(errors[0])
