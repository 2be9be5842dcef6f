"""List routes read `?limit=&cursor=` as one `PageQuery` query model: their docs and their
errors must be what FastAPI gives for the same parameters declared one by one, which
`declared()` does as the oracle."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Query
from fastapi.testclient import TestClient

from app.main import create_app
from app.routers.schemas import PageQuery


def declared() -> FastAPI:
    app = FastAPI()

    @app.get("/items")
    async def items(
        limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 20,
        cursor: Annotated[
            str | None, Query(max_length=512, description="`next_cursor` of the previous page.")
        ] = None,
    ) -> dict[str, Any]:
        return {"limit": limit, "cursor": cursor}

    return app


def read_by_model() -> FastAPI:
    app = FastAPI()

    @app.get("/items")
    async def items(query: Annotated[PageQuery, Query()]) -> dict[str, Any]:
        return {"limit": query.limit, "cursor": query.cursor}

    return app


def test_the_docs_are_those_of_the_declared_parameters() -> None:
    expected = declared().openapi()["paths"]["/items"]["get"]
    assert read_by_model().openapi()["paths"]["/items"]["get"] == expected


def test_hangars_list_routes_document_them_and_the_error_they_refer_to() -> None:
    expected = declared().openapi()["paths"]["/items"]["get"]["parameters"]
    schema = create_app().openapi()
    for path in ("/api/v1/projects", "/api/v1/projects/{project_id}/files"):
        operation = schema["paths"][path]["get"]
        assert [p for p in operation["parameters"] if p["in"] == "query"] == expected
        assert "422" in operation["responses"]
    assert "HTTPValidationError" in schema["components"]["schemas"]


TOO_LONG = "c" * 513


@pytest.mark.parametrize(
    "query",
    [
        "",
        "limit=7&cursor=abc",
        "limit=0",
        "limit=101",
        "limit=-1",
        "limit=many",
        "limit=",
        "limit=1.5",
        "limit=%2B3",
        f"cursor={TOO_LONG}",
        f"limit=0&cursor={TOO_LONG}",
        "limit=5&limit=0",
        "limit=0&limit=5",
        "cursor=",
        "unknown=1",
    ],
)
def test_answers_are_those_of_the_declared_parameters(query: str) -> None:
    with TestClient(declared()) as oracle, TestClient(read_by_model()) as ours:
        expected = oracle.get(f"/items?{query}")
        answer = ours.get(f"/items?{query}")
    assert (answer.status_code, answer.json()) == (expected.status_code, expected.json())
