"""Writes that take two SQL statements take one transaction: a failure in the second leaves
nothing of the first behind (real SQLite and DuckDB files, no cache in front)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.backends import open_repositories
from app.repositories.base import Repositories
from tests.conftest import SettingsFactory
from tests.contract.test_repositories import make_session, make_token

SQL_DATABASES = ["sqlite", "duckdb-nocache"]


@pytest.fixture(params=SQL_DATABASES)
def repos(request: pytest.FixtureRequest, make_settings: SettingsFactory) -> Iterator[Repositories]:
    repositories = open_repositories(make_settings(database=request.param))
    yield repositories
    repositories.close()


def test_a_session_whose_token_cannot_be_stored_is_not_stored(repos: Repositories) -> None:
    sessions = repos.session_repo
    first = make_session()
    token = make_token(first)
    sessions.add_session(first, token)
    second = make_session()
    clashing = token.model_copy(update={"session_id": second.id})
    with pytest.raises(Exception):  # noqa: B017 (each engine's own constraint error)
        sessions.add_session(second, clashing)
    assert sessions.get_session(second.id) is None
    assert sessions.get_session(first.id) == first


def test_deleting_a_users_sessions_removes_both_tables_rows(repos: Repositories) -> None:
    sessions = repos.session_repo
    session = make_session("u1")
    token = make_token(session)
    sessions.add_session(session, token)
    sessions.delete_user_sessions("u1")
    assert sessions.get_session(session.id) is None
    assert sessions.use_refresh_token(token.token_hash) == (None, False)
