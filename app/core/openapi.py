"""What the OpenAPI document needs so that clients generated from it work (tests/api/
test_generated_client.py generates one with openapi-python-client and drives the API with it).

- Operation ids are the routes' names (`upload_file`), which become the client's function
  names, instead of FastAPI's `upload_file_api_v1_projects__project_id__files_post`.
- Every documented error status has a body, `ErrorOut` (`routers.common.responses` attaches
  it); without one a client parses the error as `None`.
- An upload field is declared `File(..., json_schema_extra={"format": "binary"})`. For
  OpenAPI 3.1 FastAPI describes it as a string with `contentMediaType`, as the spec says, but
  generators of today (openapi-python-client, openapi-generator) recognise a file by 3.0's
  `format: binary` alone and type the field `str` otherwise, so that every upload is a 422.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi.routing import APIRoute
from pydantic import BaseModel, Field


# Domain errors (app.main's handler), FastAPI's own (a missing token, an unreadable form), the
# body limit and the last-resort 500 all answer `{"detail": "<a sentence>"}`. The docstring is
# the schema's description in the document.
class ErrorOut(BaseModel):
    """The body of every error but a 422 (whose body is `HTTPValidationError`)."""

    detail: str = Field(description="What went wrong, for people.")


def operation_ids() -> Callable[[APIRoute], str]:
    """An app's `generate_unique_id_function`: a route's operation id is its name (its endpoint
    function's, unless `name=` says otherwise). A second route of the same name raises when it
    is added, rather than FastAPI's warning when the document is built and a client with one
    of the two functions. Routes with an explicit `operation_id=` do not come here."""
    taken: dict[str, str] = {}

    def operation_id(route: APIRoute) -> str:
        where = f"{' '.join(sorted(route.methods or ()))} {route.path}"
        first = taken.setdefault(route.name, where)
        if first != where:
            raise ValueError(
                f"{where}: operation id {route.name!r} is already that of {first}; "
                "rename one of the endpoints or give it `operation_id=`"
            )
        return route.name

    return operation_id
