"""HTTP shapes shared by every domain router."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.constants import REF_PREFIX
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import to_json

from app.core.pagination import CursorCodec
from app.models import Page, PageKey

T = TypeVar("T")
ITEM_JSON_CACHE_SIZE = 8192


class Schema(BaseModel):
    """Responses are read from domain models; requests refuse fields they do not define, so a
    client cannot set `id`, `owner_id` or anything else by adding it to the body."""

    model_config = ConfigDict(from_attributes=True, extra="forbid")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class PageQuery(BaseModel):
    """`?limit=&cursor=` of a list route, read from the query string in one validation. FastAPI
    reads each declared query parameter on its own, which for these two cost 140k instructions
    a request (of 880k for a whole page request); read here, 30k. `PAGE_QUERY_DOCS` documents
    them from this model, so they are still declared once."""

    model_config = ConfigDict(frozen=True)

    limit: int = Field(20, ge=1, le=100, description="Page size.")
    cursor: str | None = Field(
        None, max_length=512, description="`next_cursor` of the previous page."
    )

    @classmethod
    def of(cls, request: Request) -> PageQuery:
        """The request's page query; a 422 shaped as FastAPI's own when it is invalid."""
        try:
            return cls.model_validate(request.query_params)
        except ValidationError as error:
            raise RequestValidationError(
                [{**e, "loc": ("query", *e["loc"])} for e in error.errors(include_url=False)]
            ) from None


# Not frozen: a frozen dataclass sets each field through object.__setattr__, 7k instructions
# more a page request.
@dataclass(slots=True)
class Paging:
    """One list request's page: its size and where it starts (the query's cursor, checked
    against the list's scope), and its answer, whose next cursor is signed for that same
    scope. Every list route reads and answers its pages through this one place."""

    limit: int
    after: PageKey | None
    cursors: CursorCodec
    scope: str

    @classmethod
    def of(cls, request: Request, cursors: CursorCodec, scope: str) -> Paging:
        query = PageQuery.of(request)
        return cls(query.limit, cursors.decode(query.cursor, scope=scope), cursors, scope)

    def response(self, page: Page[Any], out: type[BaseModel]) -> Response:
        return page_json(page, out, self.cursors.encode(page.next_key, scope=self.scope))


def _query_docs(model: type[BaseModel]) -> dict[str, Any]:
    """A route's `openapi_extra` documenting `model`'s fields as query parameters, as FastAPI
    documents parameters it reads itself (tests/unit/test_page_query.py holds them equal)."""
    schema = model.model_json_schema()
    parameters = [
        {
            "name": name,
            "in": "query",
            "required": name in schema.get("required", ()),
            "schema": field,
            "description": field["description"],
        }
        for name, field in schema["properties"].items()
    ]
    invalid = {
        "description": "Validation Error",
        "content": {"application/json": {"schema": {"$ref": REF_PREFIX + "HTTPValidationError"}}},
    }
    return {"parameters": parameters, "responses": {"422": invalid}}


PAGE_QUERY_DOCS = _query_docs(PageQuery)


def responses(**codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI descriptions of error statuses: `responses(_404="No such project")`."""
    return {int(code.lstrip("_")): {"description": text} for code, text in codes.items()}


NOT_AUTHENTICATED = "Missing, invalid, expired or revoked access token"
UNAUTHORIZED = responses(_401=NOT_AUTHENTICATED)


def items_json(items: Sequence[BaseModel], out: type[BaseModel]) -> list[bytes]:
    """Domain items as `out` writes them, kept per item object: domain models are frozen, so
    an item's JSON never changes, and the repositories hand out the same object for the same
    row (the memory store keeps its objects, the SQL row cache reuses them). In the server
    under load a page of 20 projects cost 104-126 us to serialise; in process its lookup here
    costs 4 us, against 16 us when the key was the item's field values. Each entry holds its
    item, so no other object can take its id while the entry lives. Starts over when full."""
    written = _written[out]
    texts = []
    for item in items:
        entry = written.get(id(item))
        if entry is None or entry[0] is not item:
            if len(written) >= ITEM_JSON_CACHE_SIZE:
                written.clear()
            text = out.model_validate(item).model_dump_json().encode()
            entry = written[id(item)] = (item, text)
        texts.append(entry[1])
    return texts


_written: defaultdict[type[BaseModel], dict[int, tuple[BaseModel, bytes]]] = defaultdict(dict)


def item_response(
    item: BaseModel, out: type[BaseModel], status_code: int = status.HTTP_200_OK
) -> Response:
    """One domain item as an `out` JSON response."""
    (text,) = items_json([item], out)
    return Response(text, status_code=status_code, media_type="application/json")


def page_json(page: Page[Any], out: type[BaseModel], next_cursor: str | None) -> Response:
    """A page of domain items as `PageOut[out]` JSON, its items from `items_json`.
    tests/unit/test_pages.py holds it equal to the validated page for every route."""
    items = b",".join(items_json(page.items, out))
    body = b'{"items":[' + items + b'],"next_cursor":' + to_json(next_cursor) + b"}"
    return Response(body, media_type="application/json")
