"""Fixtures that run one contract suite over every backend: a backend only adds a name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.dependencies import build_repositories, build_storage
from app.repositories.base import FileRepository, ProjectRepository, UserRepository
from app.storage.base import FileStorage
from tests.conftest import DATABASES, STORAGES, SettingsFactory

Repositories = tuple[UserRepository, ProjectRepository, FileRepository]


@pytest.fixture(params=DATABASES)
def repositories(
    request: pytest.FixtureRequest, make_settings: SettingsFactory
) -> Iterator[Repositories]:
    users, projects, files, close = build_repositories(make_settings(database=request.param))
    yield users, projects, files
    close()


@pytest.fixture
def user_repo(repositories: Repositories) -> UserRepository:
    return repositories[0]


@pytest.fixture
def project_repo(repositories: Repositories) -> ProjectRepository:
    return repositories[1]


@pytest.fixture
def file_repo(repositories: Repositories) -> FileRepository:
    return repositories[2]


@pytest.fixture(params=STORAGES)
def storage(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> FileStorage:
    return build_storage(make_settings(storage=request.param))
