"""The DuckDB cache: what a process reads from memory is what the file holds, within a budget.

Real DuckDB files in temporary folders; `assert_cache_is_the_file` compares every owner the
cache holds with a fresh read of that owner from the file, index order included.
"""

from __future__ import annotations

import random
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
from app.models import Page, PageKey, Project, RefreshToken, Session, User, new_id, utc_now
from app.repositories import cached, sql
from app.repositories.base import Repositories, every
from app.repositories.cached import ROW_BYTES, CachedDatabase, CachedUserRepository, _owner_rows
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


def queued(repositories: Repositories) -> int:
    """Rows waiting for the group commit's writer."""
    return len(cache_of(repositories).engine._group_commit._queue)  # type: ignore[attr-defined]


def taken_by_the_writer(repositories: Repositories) -> bool:
    """The first row queued is with the writer (which waits for the lock)."""
    group_commit = cache_of(repositories).engine._group_commit  # type: ignore[attr-defined]
    return group_commit._writer is not None and not group_commit._queue


def held(cache: CachedDatabase, owner_id: str) -> dict[str, Any]:
    """Everything the cache holds of one owner, its indexes' order included."""
    memory = cache.memory
    owner = cache.owners[owner_id]
    user = memory.users[owner_id]
    return {
        "user": user,
        "by_email": memory.users_by_email[user.email],
        "projects": {k.id: memory.projects[k.id] for k in memory.projects_by_owner[owner_id].keys},
        "loose": {project_id: memory.projects[project_id] for project_id in owner.loose},
        "listing": memory.projects_by_owner[owner_id].keys,
        "files": {
            key.id: memory.files[key.id]
            for project_id in owner.file_projects
            for key in memory.files_by_project[project_id].keys
        },
        "sessions": {session_id: memory.sessions[session_id] for session_id in owner.sessions},
    }


def in_file(cache: CachedDatabase, owner_id: str) -> dict[str, Any]:
    """The same, read from the file now."""
    found = _owner_rows(cache.engine, owner_id, 10**6)
    assert found is not None
    user, _, _, sessions = found

    def everything(table: sql.Table[Any]) -> list[Any]:
        rows = cache.engine.execute(f"{table.select} WHERE owner_id = ?", [owner_id])
        return table.to_models(rows, cache.engine)

    projects = everything(sql.SqlProjectRepository.table)
    files = everything(sql.SqlFileRepository.table)
    owner = cache.owners[owner_id]
    loose = {p.id: p for p in projects if p.id in owner.loose}
    oldest = owner.oldest
    if oldest is not None:
        projects = [p for p in projects if (p.created_at, p.id) >= oldest]
        files = [f for f in files if f.project_id in {p.id for p in projects}]
    return {
        "user": user,
        "by_email": user.id,
        "projects": {p.id: p for p in sorted(projects, key=lambda p: (p.created_at, p.id))},
        "listing": sorted((p.created_at, p.id) for p in projects),
        "loose": loose,
        "files": {f.id: f for f in files},
        "sessions": {s.id: s for s in sessions},
    }


def assert_cache_is_the_file(repositories: Repositories) -> None:
    cache = cache_of(repositories)
    assert cache.rows == sum(owner.rows for owner in cache.owners.values())
    for owner_id in list(cache.owners):
        assert held(cache, owner_id) == in_file(cache, owner_id)
    everyone_held = {
        "users": set(cache.owners),
        "projects": {p.owner_id for p in cache.memory.projects.values()},
        "files": {f.owner_id for f in cache.memory.files.values()},
        "sessions": {s.user_id for s in cache.memory.sessions.values()},
    }
    assert all(owners <= set(cache.owners) for owners in everyone_held.values()), everyone_held


def write_one_of_everything(repositories: Repositories) -> User:
    users, projects = repositories.user_repo, repositories.project_repo
    files, sessions = repositories.file_repo, repositories.session_repo
    ada = users.create_user("ada@example.com", "hash", "Ada")
    assert users.get_user(ada.id) == ada  # held from here on
    users.update_user_fields(ada.id, {"full_name": "Ada L."})
    gone = users.create_user("gone@example.com", "hash")
    users.get_user(gone.id)
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
    files.add_file(make_file(kept[0].id, T0).model_copy(update={"owner_id": ada.id}))
    files.delete_project_files(kept[0].id)
    session = Session(id=new_id(), user_id=ada.id, created_at=T0, expires_at=T0 + timedelta(1))
    token = RefreshToken(
        token_hash=new_id(), session_id=session.id, user_id=ada.id, expires_at=session.expires_at
    )
    sessions.add_session(session, token)
    sessions.use_refresh_token(token.token_hash)
    sessions.revoke_session(session.id)
    repositories.attempt_repo.record_failure("account:ada", T0, T0 - timedelta(minutes=15))
    return ada


def test_writes_through_the_cache_are_what_the_file_holds(settings: Settings) -> None:
    first = open_repositories(settings)
    ada = write_one_of_everything(first)
    assert list(cache_of(first).owners) == [ada.id]
    assert_cache_is_the_file(first)
    first.close()

    reopened = open_repositories(settings)
    try:
        assert cache_of(reopened) is not cache_of(first), "the last close drops the cache"
        assert not cache_of(reopened).owners, "opening reads no owner"
        found = reopened.user_repo.get_user_by_email("ada@example.com")
        assert found is not None and found.full_name == "Ada L."
        page = reopened.project_repo.get_projects_by_user(ada.id, limit=10)
        assert [p.name for p in page.items] == ["p2", "renamed"]
        assert list(cache_of(reopened).owners) == [ada.id]
        assert_cache_is_the_file(reopened)
    finally:
        reopened.close()


def test_a_failed_durable_write_leaves_the_copy_unchanged(repos: Repositories) -> None:
    ada = repos.user_repo.create_user("ada@example.com", "hash")
    project = repos.project_repo.add_project(make_project(ada.id))
    repos.project_repo.get_projects_by_user(ada.id, limit=1)
    before = held(cache_of(repos), ada.id)
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
    assert held(cache_of(repos), ada.id) == before
    assert_cache_is_the_file(repos)


def test_two_builds_on_one_file_share_one_cache_until_the_last_close(settings: Settings) -> None:
    first, second = open_repositories(settings), open_repositories(settings)
    assert cache_of(first) is cache_of(second)
    ada = first.user_repo.create_user("ada@example.com", "hash")
    assert second.user_repo.get_user(ada.id) == ada
    with pytest.raises(EmailAlreadyRegistered):
        second.user_repo.create_user("ada@example.com", "hash")

    first.close()
    first.close()  # closing twice lets go once: the second build keeps its cache
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


def all_projects(repositories: Repositories, owner_id: str) -> list[Project]:
    """Every project of the owner, page by page."""
    projects = repositories.project_repo
    return list(every(lambda **page: projects.get_projects_by_user(owner_id, **page)))


def seed(repositories: Repositories, owners: int, projects: int) -> list[str]:
    """`owners` users with `projects` projects each (a second apart, newest last)."""
    ids = []
    for n in range(owners):
        user = repositories.user_repo.create_user(f"owner{n}@example.com", "hash")
        for i in range(projects):
            repositories.project_repo.add_project(
                make_project(user.id, f"{n}-{i}", T0 + timedelta(seconds=i))
            )
        ids.append(user.id)
    return ids


def test_the_cache_keeps_to_its_budget_and_reads_stay_right(
    make_settings: SettingsFactory,
) -> None:
    """A budget of 100 rows: ten owners of 11 rows each cannot all be held at once."""
    repositories = open_repositories(make_settings(database="duckdb", DUCKDB_CACHE_MB=3))
    cache = cache_of(repositories)
    budget_rows = 3 * 2**20 // ROW_BYTES  # owners and jumped-to pages share it
    assert cache.max_rows + cache.max_jumped_rows == budget_rows
    assert cache.max_jumped_rows == budget_rows // cached.JUMPED_SHARE
    cache.max_rows = 100
    try:
        owners = seed(repositories, owners=10, projects=10)
        for _ in range(3):
            for owner_id in owners:
                page = repositories.project_repo.get_projects_by_user(owner_id, limit=4)
                assert [p.name for p in page.items] == [
                    f"{owners.index(owner_id)}-{i}" for i in (9, 8, 7, 6)
                ]
                assert cache.rows <= cache.max_rows
        assert 1 <= len(cache.owners) < len(owners)
        assert list(cache.owners)[-1] == owners[-1], "the owner read last is held"
        assert_cache_is_the_file(repositories)
    finally:
        repositories.close()


def test_an_owner_too_big_to_hold_is_read_from_the_file(make_settings: SettingsFactory) -> None:
    repositories = open_repositories(make_settings(database="duckdb"))
    cache = cache_of(repositories)
    cache.max_rows = 40  # an owner may take a quarter: 10 rows
    try:
        [big] = seed(repositories, owners=1, projects=30)
        names = [project.name for project in all_projects(repositories, big)]
        assert names == [f"0-{i}" for i in reversed(range(30))]
        assert big not in cache.owners and cache.rows == 0
        project = repositories.project_repo.create_project(big, "one more")
        assert repositories.project_repo.get_project(project.id) == project
    finally:
        repositories.close()


def test_an_owner_with_many_projects_is_held_by_their_newest(
    repos: Repositories, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Five held of a dozen at first; a get of an older one holds it alone, and a page that
    goes on past the five holds the next ones."""
    monkeypatch.setattr(cached, "HEAD_PROJECTS", 5)
    cache = cache_of(repos)
    [owner_id] = seed(repos, owners=1, projects=12)
    uncached = sql.SqlProjectRepository(cache.engine)
    first = repos.project_repo.get_projects_by_user(owner_id, limit=2)
    assert [p.name for p in first.items] == ["0-11", "0-10"]
    assert cache.owners[owner_id].rows == 1 + 5
    oldest = uncached.get_projects_by_user(owner_id, limit=12).items[-1]
    assert repos.project_repo.get_project(oldest.id) == oldest
    assert cache.owners[owner_id].loose == {oldest.id}
    assert cache.memory.projects[oldest.id] == oldest
    assert repos.file_repo.list_files(oldest.id, limit=5).items == []
    renamed = repos.project_repo.update_project_fields(oldest.id, owner_id, {"name": "renamed"})
    assert repos.project_repo.get_project(oldest.id) == renamed
    repos.project_repo.get_projects_by_user(owner_id, limit=5, after=first.next_key)
    assert cache.owners[owner_id].rows == 1 + 5 + 6 + 1, "the next six (a page and one) are held"
    assert_cache_is_the_file(repos)
    repos.project_repo.get_projects_by_user(owner_id, limit=12)
    assert cache.owners[owner_id].oldest is None and not cache.owners[owner_id].loose
    assert cache.owners[owner_id].rows == 1 + 12, "the loose one joined the listing, once"
    assert_cache_is_the_file(repos)
    repos.project_repo.delete_project(oldest.id, owner_id)
    assert repos.project_repo.get_project(oldest.id) is None
    assert not cache.owners[owner_id].loose


def test_pages_past_what_is_held_are_the_files_pages(
    repos: Repositories, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cached, "HEAD_PROJECTS", 5)
    cache = cache_of(repos)
    owners = seed(repos, owners=2, projects=17)
    uncached = sql.SqlProjectRepository(cache.engine)
    for limit in (1, 3, 4, 5, 20):
        for owner_id in owners:
            cache.let_go(owner_id)
        newest = repos.project_repo.create_project(owners[0], f"newest {limit}")
        repos.project_repo.delete_project(
            uncached.get_projects_by_user(owners[0], limit=3).items[2].id, owners[0]
        )
        after = None
        while True:
            page = repos.project_repo.get_projects_by_user(owners[0], limit=limit, after=after)
            assert page == uncached.get_projects_by_user(owners[0], limit=limit, after=after)
            if page.next_key is None:
                break
            after = page.next_key
        assert all_projects(repos, owners[0])[0] == newest
        assert cache.owners[owners[0]].oldest is None, "paging to the end holds them all"
        assert_cache_is_the_file(repos)
    deep = uncached.get_projects_by_user(owners[1], limit=15).items[-1]
    page = repos.project_repo.get_projects_by_user(
        owners[1], limit=2, after=PageKey(deep.created_at, deep.id)
    )
    assert page == uncached.get_projects_by_user(
        owners[1], limit=2, after=PageKey(deep.created_at, deep.id)
    )
    assert_cache_is_the_file(repos)


def test_concurrent_writers_and_readers_leave_the_cache_equal_to_the_file(
    repos: Repositories, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Owners are loaded, held further, let go of and written at once: a small budget keeps
    two of four held and three projects each at first, so loads race writes of the same owner
    all the time."""
    monkeypatch.setattr(cached, "HEAD_PROJECTS", 3)
    cache = cache_of(repos)
    cache.max_rows = 4 * 12
    owners = seed(repos, owners=4, projects=5)
    start = threading.Barrier(8)

    def hammer(worker: int) -> None:
        start.wait()
        pick = random.Random(worker)
        for n in range(60):
            owner_id = pick.choice(owners)
            if worker % 2:
                page = repos.project_repo.get_projects_by_user(owner_id, limit=2)
                repos.project_repo.get_projects_by_user(owner_id, limit=2, after=page.next_key)
                repos.user_repo.get_user(owner_id)
                continue
            project = repos.project_repo.create_project(owner_id, f"w{worker}-{n}")
            repos.project_repo.update_project_fields(
                project.id, owner_id, {"name": f"renamed {n}", "updated_at": utc_now()}
            )
            if n % 3 == 0:
                repos.project_repo.delete_project(project.id, owner_id)
            repos.attempt_repo.record_failure("k", T0, T0 - timedelta(minutes=15))

    with ThreadPoolExecutor(8) as pool:
        for done in [pool.submit(hammer, worker) for worker in range(8)]:
            done.result()
    assert_cache_is_the_file(repos)
    window = repos.attempt_repo.get_window("k")
    assert window is not None and window.failures == 4 * 60
    assert sum(len(all_projects(repos, owner_id)) for owner_id in owners) == 4 * 5 + 4 * 40


@pytest.mark.parametrize("rejected_row", [False, True])
@pytest.mark.parametrize("held", [False, True], ids=["owners-unheld", "owners-held"])
def test_concurrent_creates_are_each_answered_for_their_own_row(
    repos: Repositories, rejected_row: bool, held: bool
) -> None:
    """Creates that meet in one group commit: each gets its own answer, a deactivated owner's
    is refused alone, and a row the engine rejects (which fails the group's statement) fails
    only its own caller; alike whether the cache holds the owners (and answers for them
    without the engine's check) or the engine checks them."""
    active = add_owner(repos.user_repo, "active")
    inactive = add_owner(repos.user_repo, "inactive")
    if held:
        repos.project_repo.get_projects_by_user(inactive.id, limit=1)
    repos.user_repo.update_user_fields(inactive.id, {"is_active": False})
    taken = repos.project_repo.add_project(make_project(active.id, "taken"))
    if held:
        repos.project_repo.get_projects_by_user(active.id, limit=1)
    cache = cache_of(repos)
    attempts: list[Project] = [make_project(active.id, f"p{i}") for i in range(30)]
    attempts[7] = make_project(inactive.id, "refused")
    if rejected_row:
        attempts[11] = taken.model_copy(update={"name": "same id"})
    results: dict[int, Any] = {}

    def create(at: int) -> None:
        try:
            results[at] = repos.project_repo.add_project(attempts[at])
        except Exception as error:  # each caller's own answer is the point
            results[at] = error

    with ThreadPoolExecutor(len(attempts)) as pool:
        # The write lock held, the writer waits with the first row alone and the others queue
        # up behind it, to be stored by one statement (or two: unchecked and checked).
        with cache.lock:
            futures = [pool.submit(create, 0)]
            while not taken_by_the_writer(repos):
                threading.Event().wait(0.001)
            futures += [pool.submit(create, at) for at in range(1, len(attempts))]
            while queued(repos) < len(attempts) - 1:
                threading.Event().wait(0.001)
        for future in futures:
            future.result()
    assert isinstance(results.pop(7), NotFound)
    if rejected_row:
        assert isinstance(results.pop(11), duckdb.ConstraintException)
    assert all(results[at] == attempts[at] for at in results)
    listed = {project.id for project in all_projects(repos, active.id)}
    assert listed == {taken.id, *(attempts[at].id for at in results)}
    assert_cache_is_the_file(repos)


def test_a_copy_that_fails_answers_its_own_caller_only(repos: Repositories) -> None:
    """A copy whose check of the parent raises: that insert gets the error and stores nothing;
    an insert queued beside it is stored, and the writer goes on serving."""
    owner = add_owner(repos.user_repo, "owner")
    engine = cache_of(repos).engine
    insert, table = sql.SqlProjectRepository.stored_if_owner_active, sql.SqlProjectRepository.table
    good, bad = make_project(owner.id, "good"), make_project(owner.id, "bad")

    def broken() -> bool | None:
        raise RuntimeError("the copy broke")

    with ThreadPoolExecutor(2) as pool, cache_of(repos).lock:
        refused = pool.submit(
            engine.insert_where, insert, table.to_row(bad), sql.HeldCopy(broken, print)
        )
        stored = pool.submit(engine.insert_where, insert, table.to_row(good), None)
    with pytest.raises(RuntimeError, match="the copy broke"):
        refused.result()
    assert stored.result() is True
    assert repos.project_repo.add_project(make_project(owner.id, "after")).name == "after"
    names = {project.name for project in all_projects(repos, owner.id)}
    assert names == {"good", "after"}


def test_jumped_to_pages_are_kept_until_a_write_of_their_owner(
    repos: Repositories, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page read from the file for a cursor past the held projects (or of an owner not held)
    is answered from memory next time, and read again after any write of its owner, so it is
    always the file's page; the kept pages stay within their share of the budget."""
    monkeypatch.setattr(cached, "HEAD_PROJECTS", 3)
    cache = cache_of(repos)
    owners = seed(repos, owners=2, projects=12)
    uncached = sql.SqlProjectRepository(cache.engine)
    deep = uncached.get_projects_by_user(owners[0], limit=8).items[-1]
    jump = PageKey(deep.created_at, deep.id)
    statements: list[str] = []
    execute = cache.engine.execute

    def counted(statement: str, params: Any = ()) -> Any:
        statements.append(statement)
        return execute(statement, params)

    monkeypatch.setattr(cache.engine, "execute", counted)

    def page() -> Page[Project]:
        return repos.project_repo.get_projects_by_user(owners[0], limit=2, after=jump)

    first = page()  # an owner not held: their cursor's page comes from the file
    assert owners[0] not in cache.owners
    assert first == uncached.get_projects_by_user(owners[0], limit=2, after=jump)
    statements.clear()
    assert page() == first and statements == []
    repos.project_repo.update_project_fields(first.items[0].id, owners[0], {"name": "renamed"})
    renamed = page()
    assert renamed.items[0].name == "renamed"
    assert renamed == uncached.get_projects_by_user(owners[0], limit=2, after=jump)
    repos.project_repo.delete_project(renamed.items[1].id, owners[0])
    assert page() == uncached.get_projects_by_user(owners[0], limit=2, after=jump)
    # A held owner's cursor past their projects held: the same.
    repos.project_repo.get_projects_by_user(owners[0], limit=1)
    assert owners[0] in cache.owners
    statements.clear()
    assert page() == uncached.get_projects_by_user(owners[0], limit=2, after=jump)
    # Kept pages give way to new ones within their share.
    cache.max_jumped_rows = 4
    for project in uncached.get_projects_by_user(owners[1], limit=12).items[:-1]:
        repos.project_repo.get_projects_by_user(
            owners[1], limit=2, after=PageKey(project.created_at, project.id)
        )
        assert cache.jumped_rows <= cache.max_jumped_rows
    assert cache.jumped_rows == sum(len(kept.items) for _, kept in cache.jumped.values())


def test_kept_deep_pages_are_the_files_after_concurrent_writes(
    repos: Repositories, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Readers of a deep page race writers renaming and deleting that page's projects: once
    the writers are done, the page read is the file's, not one a reader kept mid-way."""
    monkeypatch.setattr(cached, "HEAD_PROJECTS", 3)
    [owner_id] = seed(repos, owners=1, projects=30)
    uncached = sql.SqlProjectRepository(cache_of(repos).engine)
    deep = uncached.get_projects_by_user(owner_id, limit=10).items[-1]
    jump = PageKey(deep.created_at, deep.id)
    targets = uncached.get_projects_by_user(owner_id, limit=8, after=jump).items
    start, written = threading.Barrier(6), threading.Event()
    durable = repos.project_repo.durable  # type: ignore[attr-defined]
    read_from_file = durable.get_projects_by_user

    def slow_read(*args: Any, **kwargs: Any) -> Page[Project]:
        page = read_from_file(*args, **kwargs)
        threading.Event().wait(0.01)  # a read that returns late: writes land meanwhile
        return page

    monkeypatch.setattr(durable, "get_projects_by_user", slow_read)

    def read() -> None:
        start.wait()
        while not written.is_set():
            repos.project_repo.get_projects_by_user(owner_id, limit=8, after=jump)

    def write(worker: int) -> None:
        start.wait()
        for n, project in enumerate(targets[worker::2]):
            if n % 3 == 2:
                repos.project_repo.delete_project(project.id, owner_id)
            else:
                repos.project_repo.update_project_fields(
                    project.id, owner_id, {"name": f"w{worker}-{n}", "updated_at": utc_now()}
                )

    with ThreadPoolExecutor(6) as pool:
        readers = [pool.submit(read) for _ in range(4)]
        for writer in [pool.submit(write, w) for w in (0, 1)]:
            writer.result()
        written.set()
        for reader in readers:
            reader.result()
    page = repos.project_repo.get_projects_by_user(owner_id, limit=8, after=jump)
    assert page == uncached.get_projects_by_user(owner_id, limit=8, after=jump)
