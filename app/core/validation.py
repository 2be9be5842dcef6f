"""422 answers for requests that fail validation, whatever JSON-like text the client sent.

Python's json module reads `NaN`, `Infinity` and `-Infinity`, which JSON does not have, and
FastAPI's 422 quotes the offending input back: a response that cannot be written as JSON, so
the client got a 500. A body holding such a number is refused here as invalid JSON instead,
naming where each one is.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

NON_FINITE = "JSON numbers must be finite: NaN, Infinity and -Infinity are not JSON"

Location = tuple[str | int, ...]


def non_finite_numbers(value: Any, location: Location = ()) -> Iterator[tuple[Location, str]]:
    """Where `value` (parsed JSON) holds NaN or an infinity, and how it was spelled."""
    if isinstance(value, float) and not math.isfinite(value):
        yield location, "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from non_finite_numbers(item, (*location, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from non_finite_numbers(item, (*location, index))


async def validation_error_handler(request: Request, error: Exception) -> Response:
    """FastAPI's 422, except for a body with non-finite numbers: one `json_invalid` error per
    such number, at its place in the body."""
    assert isinstance(error, RequestValidationError)
    found = list(non_finite_numbers(error.body, ("body",)))
    if not found:
        return await request_validation_exception_handler(request, error)
    detail = [
        {"type": "json_invalid", "loc": list(location), "msg": NON_FINITE, "input": spelling}
        for location, spelling in found
    ]
    return JSONResponse({"detail": detail}, status_code=422)
