"""What is measured and how much of it: the same for the service and the HTTP modes."""

from __future__ import annotations

import os
from dataclasses import dataclass

REGISTER = "register"
LOGIN = "login"
CREATE_PROJECT = "create project"
GET_PROJECT = "get project"
LIST_PROJECTS = "list projects page"
UPLOAD = "upload 1 MiB"
DOWNLOAD = "download 1 MiB"
PRESIGN = "presigned URL"
OPERATIONS = (
    REGISTER,
    LOGIN,
    CREATE_PROJECT,
    GET_PROJECT,
    LIST_PROJECTS,
    UPLOAD,
    DOWNLOAD,
    PRESIGN,
)
REFERENCE = "reference"
"""The bare FastAPI route of the HTTP mode, reported like an operation."""

MIB = 1024 * 1024
FILE_SIZE = MIB
PAGE_SIZE = 20
PASSWORD = "bench-password-0123"  # noqa: S105 (a throwaway account of a benchmark)
SINGLE_PROCESS_DATABASES = {"duckdb", "memory"}
SEED_SECONDS = 900.0
"""Bound on seeding what a timed run left uncreated (slow backends, large workloads)."""


@dataclass(frozen=True)
class Workload:
    """Sizes and bounds. Every measured operation stops at `requests` calls or `seconds`,
    whichever comes first; `projects` are created (and timed) over `users` accounts."""

    users: int = 100
    projects: int = 10_000
    requests: int = 20_000
    seconds: float = 10.0
    files: int = 200
    concurrency: int = 32


@dataclass(frozen=True)
class Stack:
    """One backend combination, served by `workers` processes in the HTTP mode."""

    database: str
    storage: str
    workers: int = 1

    @property
    def label(self) -> str:
        name = f"{self.database}+{self.storage}"
        return name if self.workers == 1 else f"{name} x{self.workers}"

    @property
    def uses_aws(self) -> bool:
        return self.database == "dynamodb" or self.storage == "s3"


def email(index: int) -> str:
    return f"bench{index}@example.com"


def file_bytes() -> bytes:
    """Incompressible, like most uploads."""
    return os.urandom(FILE_SIZE)
