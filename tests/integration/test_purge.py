"""Nothing is kept forever: logins, refreshes and logouts leave no rows once a purge runs past
their expiry, in the database and in DuckDB's cache alike."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from app.backends import open_repositories
from app.context import AppContext
from app.core.security import AccessTokens, PasswordHasher
from app.errors import InvalidCredentials
from app.main import purge
from app.models import utc_now
from app.repositories.base import Repositories, SessionRepository
from app.repositories.cached import CachedSessionRepository
from app.repositories.memory import MemoryDatabase, MemorySessionRepository
from app.repositories.sql import SqlDatabase, SqlSessionRepository
from app.routers.auth.interface import UserRegister
from app.routers.auth.services import login, purge_expired, refresh_session, register_user
from app.routers.auth.throttle import LoginThrottle
from tests.conftest import SettingsFactory

CYCLES = 1000
COUNTS = (
    "SELECT count(*) FROM sessions",
    "SELECT count(*) FROM refresh_tokens",
    "SELECT count(*) FROM login_attempts",
)


def _sql_counts(db: SqlDatabase) -> tuple[int, ...]:
    return tuple(db.execute(query)[0][0] for query in COUNTS)


def _memory_counts(db: MemoryDatabase) -> tuple[int, ...]:
    return len(db.sessions), len(db.refresh_tokens), len(db.attempts)


def counts(sessions: SessionRepository) -> list[tuple[int, ...]]:
    """Rows of every table the purge tends, in each copy the backend keeps."""
    if isinstance(sessions, CachedSessionRepository):
        # Refresh tokens and login windows are not held in memory; sessions of held users are.
        return [_sql_counts(sessions.cache.engine), (len(sessions.cache.memory.sessions),)]
    if isinstance(sessions, SqlSessionRepository):
        return [_sql_counts(sessions.db)]
    assert isinstance(sessions, MemorySessionRepository)
    return [_memory_counts(sessions.db)]


@pytest.fixture(params=["memory", "sqlite", "duckdb"])
def repositories(
    request: pytest.FixtureRequest, make_settings: SettingsFactory
) -> Iterator[Repositories]:
    repositories = open_repositories(make_settings(database=request.param))
    yield repositories
    repositories.close()


def test_login_refresh_logout_cycles_leave_nothing_after_a_purge(
    repositories: Repositories,
) -> None:
    hasher = PasswordHasher(8, 1, 1)
    tokens = AccessTokens("x" * 32, 900, 86400)
    throttle = LoginThrottle(repositories.attempt_repo, window_seconds=900)
    register_user(
        UserRegister(email="a@example.com", password="correct horse battery"),
        repositories.user_repo,
        hasher,
    )
    sessions = repositories.session_repo
    before = counts(sessions)
    for cycle in range(CYCLES):
        address = f"10.0.{cycle // 256}.{cycle % 256}"
        for password in ("wrong", "correct horse battery"):
            try:
                pair = login(
                    "a@example.com",
                    password,
                    client_address=address,
                    repo=repositories.user_repo,
                    sessions=sessions,
                    hasher=hasher,
                    tokens=tokens,
                    throttle=throttle,
                )
            except InvalidCredentials:
                assert password == "wrong"
        pair = refresh_session(
            pair.refresh_token, repo=repositories.user_repo, sessions=sessions, tokens=tokens
        )
        session_id = tokens.claims(pair.access_token).session_id
        sessions.revoke_session(session_id)
    assert counts(sessions) != before
    later = utc_now() + timedelta(days=2)
    purged, windows = purge_expired(sessions=sessions, throttle=throttle, now=later)
    assert (purged, windows) == (2 * CYCLES + CYCLES, CYCLES)
    assert counts(sessions) == before


def test_the_apps_purge_logs_a_failure_and_goes_on(
    make_settings: SettingsFactory, caplog: pytest.LogCaptureFixture
) -> None:
    context = AppContext.from_settings(make_settings())

    def broken(now: object) -> int:
        raise RuntimeError("disk on fire")

    context.backends.session_repo.purge_expired = broken  # type: ignore[method-assign]
    with caplog.at_level(logging.ERROR, logger="app"):
        asyncio.run(purge(context))
    assert "purging expired sessions" in caplog.text
    context.backends.close()
