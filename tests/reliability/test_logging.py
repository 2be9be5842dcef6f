"""Request ids and structured logs: every response names its request, every error is logged with
that name and its cause, and no response carries a stack trace."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.backends import open_backends
from app.core.logging import (
    REQUEST_ID_HEADER,
    TEXT_FORMAT,
    JsonFormatter,
    RequestIdFilter,
    log_config,
)
from app.main import create_app
from app.models import User
from app.repositories.memory import MemoryUserRepository
from tests.conftest import SettingsFactory


class BrokenUsers(MemoryUserRepository):
    """A user repository with a bug: registering raises something no handler knows."""

    def add_user(self, user: User) -> User:
        raise KeyError("a bug deep inside")


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the `app` logger writes, as JSON lines, through the filter `hangar serve` installs."""
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    app_logger = logging.getLogger("app")
    app_logger.addHandler(handler)
    yield output
    app_logger.removeHandler(handler)


@pytest.fixture
def client(make_settings: SettingsFactory) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings())) as test_client:
        yield test_client


def test_every_response_carries_a_fresh_request_id(client: TestClient) -> None:
    first = client.get("/api/v1/health").headers[REQUEST_ID_HEADER]
    second = client.get("/api/v1/nowhere").headers[REQUEST_ID_HEADER]
    assert len(first) == 32 and first != second


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("req-42.a:b_C", True), ("x" * 129, False), ("bad id", False), ("<script>", False)],
)
def test_a_sane_incoming_request_id_is_kept_and_others_replaced(
    client: TestClient, sent: str, kept: bool
) -> None:
    answered = client.get("/api/v1/health", headers={REQUEST_ID_HEADER: sent})
    assert (answered.headers[REQUEST_ID_HEADER] == sent) is kept


def test_an_unexpected_error_is_logged_with_its_request_id_and_hidden_from_the_client(
    make_settings: SettingsFactory, log_lines: io.StringIO
) -> None:
    settings = make_settings()
    real = open_backends(settings)
    assert isinstance(real.user_repo, MemoryUserRepository)
    broken = dataclasses.replace(real, user_repo=BrokenUsers(real.user_repo.db))
    with TestClient(create_app(settings, broken), raise_server_exceptions=False) as client:
        response = client.post(
            "/api/v1/auth/register",
            json={"email": "ada@example.com", "password": "correct horse battery"},
            headers={REQUEST_ID_HEADER: "trace-me"},
        )
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error"}
    assert "Traceback" not in response.text and "a bug deep inside" not in response.text
    assert response.headers[REQUEST_ID_HEADER] == "trace-me"
    entries = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    [error] = [entry for entry in entries if entry["level"] == "ERROR"]
    assert error["request_id"] == "trace-me"
    assert "POST /api/v1/auth/register" in error["message"]
    assert "a bug deep inside" in error["exception"]


def test_log_config_makes_json_or_text_lines_with_the_request_id() -> None:
    json_config = log_config("json")
    assert json_config["formatters"]["default"] == {"()": JsonFormatter}
    assert log_config("text")["formatters"]["default"] == {"format": TEXT_FORMAT}
    handler = json_config["handlers"]["default"]
    assert handler["filters"] == ["request_id"]
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "hello %s", ("world",), None)
    RequestIdFilter().filter(record)
    assert json.loads(JsonFormatter().format(record)) | {"time": "t"} == {
        "time": "t",
        "level": "INFO",
        "logger": "app",
        "message": "hello world",
        "request_id": "-",
    }
