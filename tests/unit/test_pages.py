"""`page_json` and `item_response` write domain items from a cache of their JSON; they must give
exactly what validating each item into the response schema would, and nothing more."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from app.models import FileRecord, Page, Project
from app.routers.common import (
    ITEM_JSON_CACHE_SIZE,
    _written,
    item_response,
    items_json,
    page_json,
)
from app.routers.files.interface import FileOut
from app.routers.projects.interface import ProjectOut
from app.routers.schemas import PageOut

NOW = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def projects() -> list[BaseModel]:
    return [
        Project(
            id=f"p{i}",
            owner_id="owner",
            name=f"Project {i}",
            description=None if i % 2 else "with a description",
            created_at=NOW - timedelta(minutes=i),
            updated_at=NOW,
        )
        for i in range(3)
    ]


def files() -> list[BaseModel]:
    return [
        FileRecord(
            id=f"f{i}",
            project_id="p0",
            owner_id="owner",
            filename=f"report {i}.pdf",
            content_type="application/pdf",
            size=1024 * i,
            sha256="0" * 64,
            storage_key=f"secret/p0/f{i}",
            created_at=NOW - timedelta(seconds=i),
        )
        for i in range(3)
    ]


@pytest.mark.parametrize(
    ("items", "out"), [(projects(), ProjectOut), (files(), FileOut)], ids=["projects", "files"]
)
@pytest.mark.parametrize("cursor", [None, "next.page"])
def test_a_page_is_what_validating_its_items_gives(
    items: list[BaseModel], out: type[BaseModel], cursor: str | None
) -> None:
    response = page_json(Page(items=items, next_key=None), out, cursor)
    expected = PageOut[out].model_validate({"items": items, "next_cursor": cursor})
    assert json.loads(response.body) == expected.model_dump(mode="json")
    assert response.media_type == "application/json"


def test_fields_outside_the_schema_stay_out() -> None:
    body = json.loads(page_json(Page(items=files(), next_key=None), FileOut, None).body)
    assert all(set(item) == set(FileOut.model_fields) for item in body["items"])
    assert "secret" not in json.dumps(body)


def test_an_item_is_what_validating_it_gives_and_a_changed_item_is_written_anew() -> None:
    project = projects()[0]
    response = item_response(project, ProjectOut, 201)
    assert response.status_code == 201
    assert json.loads(response.body) == ProjectOut.model_validate(project).model_dump(mode="json")
    renamed = project.model_copy(update={"name": "Renamed"})
    assert json.loads(item_response(renamed, ProjectOut).body)["name"] == "Renamed"
    assert json.loads(item_response(project, ProjectOut).body)["name"] == project.name
    secret = json.loads(item_response(files()[0], FileOut).body)
    assert set(secret) == set(FileOut.model_fields)


def test_the_item_cache_stays_bounded() -> None:
    made = [
        item.model_copy(update={"id": f"p{i}"})
        for i in range(ITEM_JSON_CACHE_SIZE + 10)
        for item in projects()[:1]
    ]
    texts = items_json(made, ProjectOut)
    assert [json.loads(text)["id"] for text in texts] == [item.id for item in made]
    assert len(_written[ProjectOut]) <= ITEM_JSON_CACHE_SIZE
