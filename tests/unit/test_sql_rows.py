"""Rows become domain models once: equal rows share one frozen model, the cache stays bounded."""

from __future__ import annotations

from app.models import Project
from app.repositories.sql import KNOWN_ROWS_PER_TABLE, SqlProjectRepository, to_text
from tests.contract.test_repositories import T0


def row(i: int, name: str = "Apollo") -> tuple[str | int | None, ...]:
    return (f"p{i}", "owner", name, None, to_text(T0), to_text(T0), 1)


def test_equal_rows_share_one_model_and_a_changed_row_gets_its_own() -> None:
    table = SqlProjectRepository.table
    first, same = table.to_models([row(1), row(1)])
    assert first is same is table.to_model(row(1))
    assert first == Project(id="p1", owner_id="owner", name="Apollo", created_at=T0, updated_at=T0)
    renamed = table.to_model(row(1, "Artemis"))
    assert renamed.name == "Artemis" and first.name == "Apollo"


def test_the_cache_starts_over_instead_of_growing_with_the_table() -> None:
    table = SqlProjectRepository.table
    rows = [row(i) for i in range(KNOWN_ROWS_PER_TABLE + 100)]
    for start in range(0, len(rows), 21):
        page = table.to_models(rows[start : start + 21])
        assert [p.id for p in page] == [r[0] for r in rows[start : start + 21]]
    assert len(table._known) <= KNOWN_ROWS_PER_TABLE


def test_a_result_mixing_known_and_new_rows_survives_the_cache_starting_over() -> None:
    table = SqlProjectRepository.table
    table.to_models([row(i) for i in range(KNOWN_ROWS_PER_TABLE - 5)])  # nearly full
    mixed = [row(0), row(1), *(row(KNOWN_ROWS_PER_TABLE + i) for i in range(19))]
    assert [p.id for p in table.to_models(mixed)] == [r[0] for r in mixed]


def test_a_whole_table_is_validated_without_filling_the_cache() -> None:
    table = SqlProjectRepository.table
    everything = [row(i) for i in range(2 * KNOWN_ROWS_PER_TABLE)]
    assert [p.id for p in table.to_models(everything)] == [r[0] for r in everything]
    assert len(table._known) <= KNOWN_ROWS_PER_TABLE
