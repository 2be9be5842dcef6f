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
LOGIN_SAMPLES = 20
"""Logins timed at least, going round the users again: login is a latency target, and a
median of ten (make bench's users) put memory's login at 0.86 and 1.19 times a verification
in two runs in a row."""
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
    def one_process(self) -> bool:
        """Whether only one process may serve it, as its backend modules say."""
        from app.backends import database_module, storage_module

        return (
            database_module(self.database).ONE_PROCESS or storage_module(self.storage).ONE_PROCESS
        )

    @property
    def uses_aws(self) -> bool:
        return self.database == "dynamodb" or self.storage == "s3"


def email(index: int) -> str:
    return f"bench{index}@example.com"


def login_users(users: int) -> list[int]:
    """Whose login each timed login is: every user once, in order (later operations need each
    one's token), then round again up to LOGIN_SAMPLES."""
    return [index % users for index in range(max(users, LOGIN_SAMPLES))]


def warm_up_logins(count: int) -> int:
    """Untimed logins before the timed ones, a tenth of them (at least one), as reads are
    warmed up: a fresh server's first logins on DuckDB took 48 to 63 ms, later ones 43."""
    return max(1, count // 10)


def file_bytes() -> bytes:
    """Incompressible, like most uploads."""
    return os.urandom(FILE_SIZE)
