"""boto3 clients for the AWS backends: one session per process, endpoints from settings.

The same code reaches AWS, LocalStack, DynamoDB Local, MinIO or a moto server: credentials come
from the standard AWS chain, and an endpoint left unset falls back to boto3's own
`AWS_ENDPOINT_URL` handling.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.exceptions import HTTPClientError

from app.core.config import Settings
from app.errors import BackendUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

_lock = threading.Lock()
_session: boto3.session.Session | None = None


def session() -> boto3.session.Session:
    """The process's session: clients made from it share one credential cache, and creating
    clients is serialised because a session is not thread-safe."""
    global _session
    if _session is None:
        _session = boto3.session.Session()
    return _session


def client_config(settings: Settings) -> Config:
    """Timeouts and retries of every client. botocore's defaults (60 s to connect, 60 s per
    read, retried) keep a request on an endpoint that accepts but never answers for minutes,
    far past a load balancer's patience; these give up after about attempts x read timeout."""
    return Config(
        connect_timeout=settings.AWS_CONNECT_TIMEOUT_SECONDS,
        read_timeout=settings.AWS_READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": settings.AWS_MAX_ATTEMPTS},
    )


def dynamodb_client(settings: Settings) -> DynamoDBClient:
    endpoint = settings.DYNAMODB_ENDPOINT_URL or settings.AWS_ENDPOINT_URL or None
    with _lock:
        return session().client(
            "dynamodb",
            region_name=settings.AWS_REGION,
            endpoint_url=endpoint,
            config=client_config(settings),
        )


def s3_client(settings: Settings) -> S3Client:
    """SigV4 (required for week-long presigned links); path-style addressing on a custom
    endpoint, since MinIO, moto and LocalStack do not serve bucket subdomains by default."""
    endpoint = settings.S3_ENDPOINT_URL or settings.AWS_ENDPOINT_URL or None
    s3_config = Config(
        signature_version="s3v4", s3={"addressing_style": "path" if endpoint else "auto"}
    )
    with _lock:
        return session().client(
            "s3",
            region_name=settings.AWS_REGION,
            endpoint_url=endpoint,
            config=client_config(settings).merge(s3_config),
        )


Params = ParamSpec("Params")
Result = TypeVar("Result")
Class = TypeVar("Class", bound=type)

UNREACHABLE = (BotoConnectionError, HTTPClientError)
"""botocore's errors of an endpoint that cannot be reached or does not answer in time (connect
and read timeouts, refused or dropped connections), once its retries are spent."""


def reachable(service: str, method: Callable[Params, Result]) -> Callable[Params, Result]:
    """`method`, raising BackendUnavailable (503) naming `service` when it cannot be reached."""

    @functools.wraps(method)
    def call(*args: Params.args, **kwargs: Params.kwargs) -> Result:
        try:
            return method(*args, **kwargs)
        except UNREACHABLE as error:
            raise BackendUnavailable(f"Cannot reach {service}: {error}") from error

    return call


def all_reachable(service: str, cls: Class) -> Class:
    """Every public method of `cls` through `reachable`: the one place where an unreachable
    AWS endpoint becomes BackendUnavailable for that class."""
    for name, value in list(vars(cls).items()):
        if callable(value) and not name.startswith("_"):
            setattr(cls, name, reachable(service, value))
    return cls
