"""HTTP shapes shared by every domain router."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Response, status
from pydantic import BaseModel
from pydantic_core import to_json

from app.core.openapi import ErrorOut
from app.core.pagination import CursorCodec
from app.models import Page, PageKey
from app.routers.schemas import PageQuery

ITEM_JSON_CACHE_SIZE = 8192


# Not frozen: a frozen dataclass sets each field through object.__setattr__, on every page.
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
    def of(cls, query: PageQuery, cursors: CursorCodec, scope: str) -> Paging:
        return cls(query.limit, cursors.decode(query.cursor, scope=scope), cursors, scope)

    def response(self, page: Page[Any], out: type[BaseModel]) -> Response:
        return page_json(page, out, self.cursors.encode(page.next_key, scope=self.scope))


def responses(**codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI descriptions of error statuses, `responses(_404="No such project")`, each with
    the `ErrorOut` body the app answers them with."""
    return {
        int(code.lstrip("_")): {"description": text, "model": ErrorOut}
        for code, text in codes.items()
    }


NOT_AUTHENTICATED = "Missing, invalid, expired or revoked access token"
UNAUTHORIZED = responses(_401=NOT_AUTHENTICATED)


def items_json(items: Sequence[BaseModel], out: type[BaseModel]) -> list[bytes]:
    """Domain items as `out` writes them, kept per item object: domain models are frozen, so
    an item's JSON never changes, and the repositories hand out the same object for the same
    row (the memory store keeps its objects, the SQL row cache reuses them), so a page is
    written from texts instead of serialised again; keyed by object, since a lookup by field
    values costs more than it saves. Each entry holds its item, so no other object can take
    its id while the entry lives. Starts over when full."""
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
    item: BaseModel,
    out: type[BaseModel],
    status_code: int = status.HTTP_200_OK,
    *,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """One domain item as an `out` JSON response, with `headers` (an ETag) if given."""
    (text,) = items_json([item], out)
    return Response(text, status_code=status_code, headers=headers, media_type="application/json")


def page_json(page: Page[Any], out: type[BaseModel], next_cursor: str | None) -> Response:
    """A page of domain items as `PageOut[out]` JSON, its items from `items_json`.
    tests/unit/test_pages.py holds it equal to the validated page for every route."""
    items = b",".join(items_json(page.items, out))
    body = b'{"items":[' + items + b'],"next_cursor":' + to_json(next_cursor) + b"}"
    return Response(body, media_type="application/json")
