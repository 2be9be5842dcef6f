"""Service calls inline on the event loop that wait for DuckDB's group commit there
(`app.dependencies.call`, `app.repositories.inline`): the loop goes on serving while they
wait, their answers are their own, and a cancelled request still ends as its write did.

Real DuckDB files; the write lock is held by the test to keep a group commit under way.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Iterator

import pytest

from app.backends import open_repositories
from app.core.config import Settings
from app.dependencies import call
from app.errors import NotFound
from app.models import User
from app.repositories import inline
from app.repositories.base import Repositories
from app.routers.projects import services
from app.routers.projects.interface import ProjectCreate
from tests.conftest import SettingsFactory
from tests.contract.test_repositories import add_owner
from tests.unit.test_duckdb_cache import (
    assert_cache_is_the_file,
    cache_of,
    queued,
    taken_by_the_writer,
)

REQUEST_ID = contextvars.ContextVar("request_id", default="none")


@pytest.fixture
def settings(make_settings: SettingsFactory) -> Settings:
    return make_settings(database="duckdb", storage="local")


@pytest.fixture
def repos(settings: Settings) -> Iterator[Repositories]:
    repositories = open_repositories(settings)
    yield repositories
    repositories.close()


class HeldLock:
    """The database's write lock held by a thread of its own (so it is not re-entered by the
    loop's thread) until `release`: the group commit's writer waits for it."""

    def __init__(self, repos: Repositories) -> None:
        self._lock = cache_of(repos).lock
        self._held, self._go = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._hold)
        self._thread.start()
        self._held.wait()

    def _hold(self) -> None:
        with self._lock:
            self._held.set()
            self._go.wait()

    def release(self) -> None:
        self._go.set()
        if self._thread is not threading.current_thread():
            self._thread.join()


async def until(condition: object) -> None:
    """Let the loop run until `condition()` holds (a bounded wait)."""
    for _ in range(2000):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the condition never held")


def create(repos: Repositories, owner: User, name: str) -> asyncio.Task[object]:
    body = ProjectCreate(name=name)
    return asyncio.ensure_future(
        call(services.create_project, body, owner=owner, repo=repos.project_repo)
    )


def test_creates_wait_on_the_loop_which_serves_others_meanwhile(repos: Repositories) -> None:
    """While a group commit is held up, creates from the loop queue up (in one statement when
    it goes on) and reads on the same loop are answered at once."""
    owner = add_owner(repos.user_repo, "owner")
    gone = add_owner(repos.user_repo, "gone")
    repos.project_repo.get_projects_by_user(owner.id, limit=1)  # held: the cache answers for it
    repos.user_repo.update_user_fields(gone.id, {"is_active": False})

    async def scenario() -> list[object]:
        lock = HeldLock(repos)
        try:
            creates = [create(repos, owner, "p0")]
            await until(lambda: taken_by_the_writer(repos))  # which waits for the lock
            creates += [create(repos, owner, f"p{i}") for i in range(1, 10)]
            creates.append(create(repos, gone, "refused"))
            await until(lambda: queued(repos) == len(creates) - 1)
            read = await call(repos.project_repo.get_projects_by_user, owner.id, limit=5)
            assert read.items == []  # answered while every create still waits
            assert not any(task.done() for task in creates)
        finally:
            lock.release()
        return await asyncio.gather(*creates, return_exceptions=True)

    answers = asyncio.run(scenario())
    assert isinstance(answers.pop(), NotFound)
    names = {
        project.name
        for project in repos.project_repo.get_projects_by_user(owner.id, limit=20).items
    }  # type: ignore[attr-defined]
    assert names == {f"p{i}" for i in range(10)}
    assert {a.name for a in answers} == names  # type: ignore[attr-defined]
    assert repos.project_repo.get_projects_by_user(gone.id, limit=5).items == []
    assert_cache_is_the_file(repos)


def test_a_waiting_call_keeps_its_context() -> None:
    """Context variables (the logs' request id) are the caller's inside the call, after its
    wait too, whatever ran on the loop meanwhile."""
    seen: list[str] = []
    loop_answers: list[asyncio.Future[str]] = []

    class Answer:
        def __init__(self, future: asyncio.Future[str]) -> None:
            self.future = future

        def block(self) -> str:
            raise AssertionError("not cancelled: never waited for in the thread")

    def waiting_call() -> str:
        seen.append(REQUEST_ID.get())
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        loop_answers.append(future)
        answer = inline.wait_for(Answer(future))
        seen.append(REQUEST_ID.get())
        return answer

    async def in_request(request_id: str) -> str:
        REQUEST_ID.set(request_id)
        return await inline.run_inline(waiting_call)

    async def scenario() -> list[str]:
        first = asyncio.ensure_future(in_request("first"))
        second = asyncio.ensure_future(in_request("second"))
        await until(lambda: len(loop_answers) == 2)
        loop_answers[1].set_result("b")
        loop_answers[0].set_result("a")
        return list(await asyncio.gather(first, second))

    assert asyncio.run(scenario()) == ["a", "b"]
    assert sorted(seen) == ["first", "first", "second", "second"]


def test_a_cancelled_request_ends_as_its_write_did(repos: Repositories) -> None:
    """A request cancelled while its create waits for the group commit: the project is
    stored, the call's code after the wait runs with the real answer (as code that removes
    what a refused write leaves would need), and the cancellation still reaches the request."""
    owner = add_owner(repos.user_repo, "owner")
    answers: list[str] = []

    def create_and_note() -> None:
        project = repos.project_repo.create_project(owner.id, "kept")
        answers.append(project.name)

    async def scenario() -> None:
        lock = HeldLock(repos)
        try:
            task = asyncio.ensure_future(call(create_and_note))
            await until(lambda: taken_by_the_writer(repos))
            threading.Timer(0.1, lock.release).start()  # the batch goes on meanwhile
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            lock.release()

    asyncio.run(scenario())
    assert answers == ["kept"]
    [project] = repos.project_repo.get_projects_by_user(owner.id, limit=5).items
    assert project.name == "kept"
