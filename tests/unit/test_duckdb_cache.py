"""The DuckDB write-through cache: what a process reads from memory is what the file holds.

Real DuckDB files in temporary folders; `tables` compares a live copy with a fresh load of the
file, index order included.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import duckdb
import pytest

from app.backends import open_repositories
from app.core.config import Settings
from app.errors import EmailAlreadyRegistered, NotFound, VersionMismatch
from app.models import RefreshToken, Session, User, new_id, utc_now
from app.repositories.base import LoginAttemptRepository, Repositories
from app.repositories.cached import CachedDatabase, CachedUserRepository, _WriteThrough, load
from app.repositories.memory import MemoryDatabase, MemoryLoginAttemptRepository
from tests.conftest import SettingsFactory
from tests.contract.test_repositories import T0, add_owner, make_file, make_project


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(database="duckdb")


@pytest.fixture
def repos(settings: Settings) -> Iterator[Repositories]:
    repositories = open_repositories(settings)
    yield repositories
    repositories.close()


def cache_of(repositories: Repositories) -> CachedDatabase:
    user_repo = repositories.user_repo
    assert isinstance(user_repo, CachedUserRepository)
    return user_repo.cache


def tables(memory: MemoryDatabase) -> dict[str, Any]:
    """Everything a memory copy holds, its indexes' order included (empty groups aside)."""
    return {
        "users": memory.users,
        "projects": memory.projects,
        "files": memory.files,
        "sessions": memory.sessions,
        "refresh_tokens": memory.refresh_tokens,
        "attempts": memory.attempts,
        "users_by_email": memory.users_by_email,
        "users_newest": memory.users_newest.keys,
        "projects_by_owner": {k: v.keys for k, v in memory.projects_by_owner.items() if v.keys},
        "files_by_project": {k: v.keys for k, v in memory.files_by_project.items() if v.keys},
    }


def assert_cache_is_the_file(repositories: Repositories) -> None:
    cache = cache_of(repositories)
    assert tables(cache.memory) == tables(load(cache.engine))


def write_one_of_everything(repositories: Repositories) -> None:
    users, projects = repositories.user_repo, repositories.project_repo
    files, sessions = repositories.file_repo, repositories.session_repo
    ada = users.create_user("ada@example.com", "hash", "Ada")
    users.update_user_fields(ada.id, {"full_name": "Ada L."})
    gone = users.create_user("gone@example.com", "hash")
    users.delete_user(gone.id)
    kept = [
        projects.add_project(make_project(ada.id, f"p{i}", T0 + timedelta(i))) for i in range(3)
    ]
    projects.update_project_fields(kept[0].id, ada.id, {"name": "renamed"})
    projects.delete_project(kept[1].id, ada.id)
    for i in range(3):
        files.add_file(
            make_file(kept[2].id, T0 + timedelta(seconds=i)).model_copy(update={"owner_id": ada.id})
        )
    files.delete_project_files(kept[0].id)
    session = Session(id=new_id(), user_id=ada.id, created_at=T0, expires_at=T0 + timedelta(1))
    token = RefreshToken(
        token_hash=new_id(), session_id=session.id, user_id=ada.id, expires_at=session.expires_at
    )
    sessions.add_session(session, token)
    sessions.use_refresh_token(token.token_hash)
    sessions.revoke_session(session.id)
    repositories.attempt_repo.record_failure("account:ada", T0, T0 - timedelta(minutes=15))


def test_writes_through_the_cache_are_what_the_next_process_loads(settings: Settings) -> None:
    first = open_repositories(settings)
    write_one_of_everything(first)
    assert_cache_is_the_file(first)
    written = tables(cache_of(first).memory)
    first.close()

    reopened = open_repositories(settings)
    try:
        assert cache_of(reopened) is not cache_of(first), "the last close drops the copy"
        assert tables(cache_of(reopened).memory) == written
        ada = reopened.user_repo.get_user_by_email("ada@example.com")
        assert ada is not None and ada.full_name == "Ada L."
        page = reopened.project_repo.get_projects_by_user(ada.id, limit=10)
        assert [p.name for p in page.items] == ["p2", "renamed"]
    finally:
        reopened.close()


def test_a_failed_durable_write_leaves_the_copy_unchanged(repos: Repositories) -> None:
    ada = repos.user_repo.create_user("ada@example.com", "hash")
    project = repos.project_repo.add_project(make_project(ada.id))
    before = tables(cache_of(repos).memory)
    twin = User(id=new_id(), email="ada@example.com", password_hash="other", created_at=T0)
    with pytest.raises(EmailAlreadyRegistered):
        repos.user_repo.add_user(twin)
    with pytest.raises(NotFound):
        repos.project_repo.update_project_fields(new_id(), ada.id, {"name": "x"})
    with pytest.raises(VersionMismatch):
        repos.project_repo.update_project_fields(
            project.id, ada.id, {"name": "x"}, expected_version=2
        )
    with pytest.raises(NotFound):
        repos.user_repo.update_user_fields(twin.id, {"full_name": "Twin"})
    # The engine's own error, untranslated: a second project under a taken primary key.
    with pytest.raises(duckdb.ConstraintException):
        repos.project_repo.add_project(project.model_copy(update={"name": "impostor"}))
    assert tables(cache_of(repos).memory) == before
    assert_cache_is_the_file(repos)


def test_two_builds_on_one_file_share_one_copy_until_the_last_close(settings: Settings) -> None:
    first, second = open_repositories(settings), open_repositories(settings)
    assert cache_of(first) is cache_of(second)
    ada = first.user_repo.create_user("ada@example.com", "hash")
    assert second.user_repo.get_user(ada.id) == ada
    with pytest.raises(EmailAlreadyRegistered):
        second.user_repo.create_user("ada@example.com", "hash")

    first.close()
    first.close()  # closing twice lets go once: the second build keeps its copy
    bob = second.user_repo.create_user("bob@example.com", "hash")
    assert second.user_repo.get_user(bob.id) == bob
    second.close()

    third = open_repositories(settings)
    try:
        assert {u.email for u in third.user_repo.list_users(limit=10).items} == {
            "ada@example.com",
            "bob@example.com",
        }
    finally:
        third.close()


def test_concurrent_writers_leave_the_copy_equal_to_the_file(repos: Repositories) -> None:
    add_owner(repos.user_repo, "owner")
    project = repos.project_repo.create_project("owner", "contended")
    start = threading.Barrier(8)

    def hammer(worker: int) -> None:
        start.wait()
        for n in range(50):
            change = {"name": f"{worker}-{n}", "updated_at": utc_now()}
            repos.project_repo.update_project_fields(project.id, "owner", change)
            repos.attempt_repo.record_failure("k", T0, T0 - timedelta(minutes=15))
            if n % 10 == 0:
                repos.project_repo.create_project("owner", f"new-{worker}-{n}")

    with ThreadPoolExecutor(8) as pool:
        for done in [pool.submit(hammer, worker) for worker in range(8)]:
            done.result()
    assert_cache_is_the_file(repos)
    window = repos.attempt_repo.get_window("k")
    assert window is not None and window.failures == 8 * 50
    assert len(repos.project_repo.get_projects_by_user("owner", limit=100).items) == 1 + 8 * 5


def test_a_cached_repository_that_forgets_a_write_is_refused_when_defined() -> None:
    with pytest.raises(
        TypeError, match=r"\['clear', 'purge_lapsed', 'record_failure', 'remove_failure'\]"
    ):

        class Forgetful(_WriteThrough[LoginAttemptRepository], MemoryLoginAttemptRepository):
            reads = frozenset({"get_window"})
