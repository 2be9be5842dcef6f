"""Fixtures that run one contract suite over every backend: a backend only adds a name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.backends import open_repositories, open_storage
from app.repositories.base import (
    ActionTokenRepository,
    FileRepository,
    LoginAttemptRepository,
    ProjectRepository,
    Repositories,
    SessionRepository,
    UserRepository,
)
from app.storage.base import FileStorage
from tests.conftest import DATABASES, STORAGES, SettingsFactory


@pytest.fixture(params=DATABASES)
def repositories(
    request: pytest.FixtureRequest, make_settings: SettingsFactory
) -> Iterator[Repositories]:
    repositories = open_repositories(make_settings(database=request.param))
    yield repositories
    repositories.close()


@pytest.fixture
def user_repo(repositories: Repositories) -> UserRepository:
    return repositories.user_repo


@pytest.fixture
def project_repo(repositories: Repositories) -> ProjectRepository:
    return repositories.project_repo


@pytest.fixture
def file_repo(repositories: Repositories) -> FileRepository:
    return repositories.file_repo


@pytest.fixture
def session_repo(repositories: Repositories) -> SessionRepository:
    return repositories.session_repo


@pytest.fixture
def attempt_repo(repositories: Repositories) -> LoginAttemptRepository:
    return repositories.attempt_repo


@pytest.fixture
def token_repo(repositories: Repositories) -> ActionTokenRepository:
    return repositories.token_repo


@pytest.fixture(params=STORAGES)
def storage(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> FileStorage:
    return open_storage(make_settings(storage=request.param))
