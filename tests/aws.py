"""The AWS endpoint the DynamoDB and S3 backends are tested against: a moto server (moto's own
WSGI app on werkzeug, as `ThreadedMotoServer` runs it) started once per session, or whatever
HANGAR_TEST_AWS_ENDPOINT names: `aws` for real AWS with the ambient credentials, else a URL
(LocalStack, DynamoDB Local, MinIO...).

Each test gets its own table prefix and bucket on that endpoint, so one server serves the whole
session; on an external endpoint they are deleted after the test.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from typing import Any

import pytest
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from app.core.aws import dynamodb_client, s3_client
from app.core.config import Settings

ENDPOINT_VARIABLE = "HANGAR_TEST_AWS_ENDPOINT"
REAL_AWS = "aws"
DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def external_endpoint() -> str | None:
    return os.environ.get(ENDPOINT_VARIABLE) or None


class OneRequestAtATime:
    """moto's backends are not thread-safe: two concurrent TransactWriteItems can both pass
    their conditions. Serving one request at a time restores the per-request atomicity AWS
    guarantees, while connections (and the clients' threads) stay concurrent."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock:
            return list(self._app(environ, start_response))


@pytest.fixture(scope="session")
def aws_endpoint() -> Iterator[str | None]:
    """The endpoint URL (None: real AWS). moto gets dummy credentials, so a developer's real
    ones are never sent anywhere by the default test run."""
    external = external_endpoint()
    if external is not None:
        yield None if external == REAL_AWS else external
        return
    with pytest.MonkeyPatch.context() as env:
        for name, value in DUMMY_CREDENTIALS.items():
            env.setenv(name, value)
        env.delenv("AWS_PROFILE", raising=False)
        app = OneRequestAtATime(DomainDispatcherApplication(create_backend_app))
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_port}"
        finally:
            server.shutdown()
            thread.join()


def aws_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings for fresh, uniquely named tables and bucket, created on first use."""
    name = f"hangar-test-{uuid.uuid4().hex[:16]}"
    overrides = {
        "AWS_ENDPOINT_URL": request.getfixturevalue("aws_endpoint"),
        "DYNAMODB_TABLE_PREFIX": f"{name}-",
        "S3_BUCKET": name,
        "AWS_AUTO_CREATE": True,
    }
    if external_endpoint() is not None:
        request.addfinalizer(lambda: drop_resources(Settings(_env_file=None, **overrides)))
    return overrides


def drop_resources(settings: Settings) -> None:
    """Delete a test's tables and bucket (whichever were created) from a shared account."""
    dynamodb = dynamodb_client(settings)
    for table in (settings.USERS_TABLE, settings.PROJECTS_TABLE, settings.FILES_TABLE):
        with suppress(dynamodb.exceptions.ResourceNotFoundException):
            dynamodb.delete_table(TableName=settings.DYNAMODB_TABLE_PREFIX + table)
    s3 = s3_client(settings)
    with suppress(s3.exceptions.NoSuchBucket):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=settings.S3_BUCKET):
            for entry in page.get("Contents", []):
                s3.delete_object(Bucket=settings.S3_BUCKET, Key=entry["Key"])
        s3.delete_bucket(Bucket=settings.S3_BUCKET)
