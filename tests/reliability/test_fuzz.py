"""Hangar's own OpenAPI schema, fuzzed in-process by schemathesis as a logged-in user on the
in-memory stack: no input may cause a 5xx, and every answer must match the schema."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.backends import open_backends
from app.core.config import Settings
from app.main import create_app
from tests.client_fixtures import Headers, login, register
from tests.conftest import TEST_BASE_URL

EXAMPLES_PER_OPERATION = 25
UNPARSABLE_BODY = {"There was an error parsing the body", "Invalid multipart data."}
"""FastAPI's and Starlette's own 400s for a body they cannot even parse."""


# Loaded at import so that each operation becomes a test of its own. The backends are handed
# in: schemathesis keeps its own lifespan of the app running, and it must see the same data as
# the fixture that signs up the fuzzing user.
SETTINGS = Settings(
    _env_file=None,
    APP_ENV="test",
    DATABASE_TYPE="memory",
    STORAGE_TYPE="memory",
    PUBLIC_BASE_URL=TEST_BASE_URL,
    MAX_UPLOAD_BYTES=64 * 1024,
)
app = create_app(SETTINGS, open_backends(SETTINGS))
# Logging out or deleting the account would end the session every other example needs.
schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex="/logout|/auth/me")


@pytest.fixture(scope="module")
def auth() -> Headers:
    """A logged-in user's headers."""
    with TestClient(app) as client:
        register(client, "fuzz@example.com")
        return login(client, "fuzz@example.com")


def documented_status(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Every status is documented, except the framework's own 400 for a body it cannot parse,
    answered before any route code runs, on every route that takes a body."""
    if response.status_code == 400 and response.json().get("detail") in UNPARSABLE_BODY:
        return None
    return status_code_conformance(ctx, response, case)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_causes_a_server_error_or_an_answer_off_schema(
    case: schemathesis.Case, auth: Headers
) -> None:
    case.call_and_validate(
        headers=auth,
        checks=[
            not_a_server_error,
            documented_status,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
