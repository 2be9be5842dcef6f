"""Writes that depend on a parent never outlive it, raced over HTTP as users would race them,
against real `hangar serve` processes: uploads racing the deletion of their project, project
creations racing the deletion of their owner's account, and the account's deletion racing the
owner's own project deletes; on one server per stack, then on two servers sharing a database.

Every round is bounded in requests and time. The database is checked directly once the servers
have stopped (DuckDB allows one process per file): no file record of a deleted project, no
project of a deleted user, and `hangar doctor` finds nothing.

HANGAR_TEST_SERVER_PYTHONPATH, if set, is the servers' PYTHONPATH (and only theirs): a checkout
of an older release to run the servers from, while the checks stay this release's.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from app import doctor
from app.backends import open_backends
from app.core.config import Settings
from benchmarks.servers import HANGAR, Server, running_server, server_env

API = "/api/v1"
PASSWORD = "correct horse battery"
ROUNDS = 5
UPLOADERS = 8
UPLOADS_PER_UPLOADER = 6
UPLOAD_BYTES = 256 * 1024
DELETE_AFTER_UPLOADS = UPLOADERS  # the project delete fires once this many uploads answered
ACCOUNT_ROUNDS = 8
CREATORS = 3
CREATES_PER_CREATOR = 24
PROJECTS_PER_ACCOUNT = 24
PROJECT_DELETERS = 3
ROUND_SECONDS = 60.0
SERVER_PYTHONPATH = os.environ.get("HANGAR_TEST_SERVER_PYTHONPATH")
STACKS = [
    pytest.param("sqlite", id="sqlite+local"),
    pytest.param("duckdb", id="duckdb+local"),
    pytest.param("dynamodb", id="dynamodb+s3"),
]
SHARED_STACKS = [
    pytest.param("sqlite", id="sqlite+local"),
    pytest.param("dynamodb", id="dynamodb+s3"),
]


def stack_settings(
    request: pytest.FixtureRequest, folder: Path, database: str
) -> dict[str, object]:
    values: dict[str, object] = {"APP_ENV": "test", "DATABASE_TYPE": database}
    if database == "dynamodb":
        from tests.aws import aws_overrides

        overrides = aws_overrides(request)
        return (
            values | {k: v for k, v in overrides.items() if v is not None} | {"STORAGE_TYPE": "s3"}
        )
    return values | {
        "STORAGE_TYPE": "local",
        "SQLITE_PATH": folder / "app.sqlite3",
        "DUCKDB_PATH": folder / "app.duckdb",
        "LOCAL_STORAGE_PATH": folder / "uploads",
    }


def serving_env(values: dict[str, object]) -> dict[str, str]:
    env = server_env(values)
    if SERVER_PYTHONPATH:
        env["PYTHONPATH"] = SERVER_PYTHONPATH
    return env


@contextmanager
def servers(folder: Path, values: dict[str, object], count: int = 1) -> Iterator[list[Server]]:
    """`count` servers on the same database and storage, each in its own working folder."""
    with ExitStack() as stack:
        yield [
            stack.enter_context(
                running_server(
                    folder / f"server-{n}", serving_env(values), log=folder / f"server-{n}.log"
                )
            )
            for n in range(count)
        ]
    for n in range(count):
        output = (folder / f"server-{n}.log").read_text(errors="replace")
        assert "Traceback" not in output, output[-3000:]


@dataclass
class Session:
    """One login of a user, on one server."""

    http: httpx.Client
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def request(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        return self.http.request(method, path, headers=self.headers, **kwargs)  # type: ignore[arg-type]


@dataclass
class Account:
    email: str
    user_id: str
    sessions: list[Session] = field(default_factory=list)

    def close(self) -> None:
        for session in self.sessions:
            session.http.close()


def sign_up(bases: list[str], sessions: int = 2) -> Account:
    """A new user with `sessions` logins, spread over the servers at `bases`."""
    email = f"race-{uuid.uuid4().hex}@example.com"
    with httpx.Client(base_url=bases[0] + API, timeout=30) as http:
        answer = http.post("/auth/register", json={"email": email, "password": PASSWORD})
        assert answer.status_code == 201, answer.text
    account = Account(email, user_id="")
    for n in range(sessions):
        http = httpx.Client(base_url=bases[n % len(bases)] + API, timeout=30)
        login = http.post("/auth/login", data={"username": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        account.sessions.append(Session(http, login.json()["access_token"]))
    account.user_id = account.sessions[0].request("GET", "/auth/me").json()["id"]
    return account


def logs_in(base: str, email: str) -> bool:
    form = {"username": email, "password": PASSWORD}
    return httpx.post(f"{base}{API}/auth/login", data=form, timeout=30).status_code == 200


def in_parallel(tasks: list[Callable[[], object]]) -> list[object]:
    """Run every task at once (released together by a barrier); their results, in order."""
    barrier = threading.Barrier(len(tasks))

    def released(task: Callable[[], object]) -> object:
        barrier.wait(timeout=30)
        return task()

    with ThreadPoolExecutor(len(tasks)) as pool:
        futures = [pool.submit(released, task) for task in tasks]
        return [future.result(timeout=ROUND_SECONDS) for future in futures]


@dataclass
class UploadRace:
    """Uploads to one project from every session, its deletion fired once some answered."""

    statuses: list[int] = field(default_factory=list)
    delete_status: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: threading.Event = field(default_factory=threading.Event)


def race_uploads_against_project_delete(account: Account, seed: int) -> tuple[str, UploadRace]:
    """One round; the project's id and what the clients were answered."""
    owner = account.sessions[0]
    created = owner.request("POST", "/projects", json={"name": f"doomed-{seed}"})
    assert created.status_code == 201, created.text
    project_id = created.json()["id"]
    race = UploadRace()
    deadline = time.monotonic() + ROUND_SECONDS

    def upload(n: int) -> None:
        session = account.sessions[n % len(account.sessions)]
        data = bytes([n]) * UPLOAD_BYTES
        for _ in range(UPLOADS_PER_UPLOADER):
            if time.monotonic() > deadline:
                return
            files = {"file": (f"f{n}.bin", data, "application/octet-stream")}
            status = session.request("POST", f"/projects/{project_id}/files", files=files)
            with race.lock:
                race.statuses.append(status.status_code)
                if len(race.statuses) >= DELETE_AFTER_UPLOADS:
                    race.answered.set()
            if status.status_code != 201:
                return

    def delete() -> None:
        race.answered.wait(timeout=ROUND_SECONDS)
        session = account.sessions[-1]
        race.delete_status = session.request("DELETE", f"/projects/{project_id}").status_code

    in_parallel([*(lambda n=n: upload(n) for n in range(UPLOADERS)), delete])
    return project_id, race


def examine(values: dict[str, object], deleted_projects: list[str], gone_users: list[str]) -> None:
    """With the servers stopped: nothing of a deleted parent is stored, doctor finds nothing."""
    settings = Settings(_env_file=None, **values)  # type: ignore[arg-type]
    backends = open_backends(settings)
    try:
        for project_id in deleted_projects:
            assert backends.project_repo.get_project(project_id) is None
            assert backends.file_repo.list_files(project_id, limit=100).items == []
        for user_id in gone_users:
            assert backends.user_repo.get_user(user_id) is None
            assert backends.project_repo.get_projects_by_user(user_id, limit=100).items == []
        problems = doctor.examine(backends, temp_file_max_age=0).problems
        assert problems == []
    finally:
        backends.close()


def upload_rounds(bases: list[str]) -> tuple[list[str], list[int]]:
    """Every round of the upload race (sessions spread over `bases`): the deleted projects and
    every upload's status, after checking each round's answers."""
    account = sign_up(bases, sessions=max(2, len(bases)))
    deleted: list[str] = []
    statuses: list[int] = []
    try:
        for seed in range(ROUNDS):
            project_id, race = race_uploads_against_project_delete(account, seed)
            assert race.delete_status == 204
            assert set(race.statuses) <= {201, 404}, race.statuses
            listed = account.sessions[0].request("GET", f"/projects/{project_id}/files")
            assert listed.status_code == 404
            deleted.append(project_id)
            statuses += race.statuses
    finally:
        account.close()
    return deleted, statuses


@pytest.mark.parametrize("database", STACKS)
def test_uploads_racing_their_projects_deletion_leave_no_record(
    request: pytest.FixtureRequest, tmp_path: Path, database: str
) -> None:
    values = stack_settings(request, tmp_path, database)
    with servers(tmp_path, values) as [server]:
        deleted, statuses = upload_rounds([server.base_url])
    print(f"\n{database}: uploads answered {dict(Counter(statuses))}")
    assert 201 in statuses
    examine(values, deleted, [])


def paced(offset: float, pause: float, count: int, step: Callable[[], bool]) -> None:
    """Wait `offset` seconds, then run `step` up to `count` times `pause` apart, until False."""
    time.sleep(offset)
    for _ in range(count):
        if not step():
            return
        time.sleep(pause)


def login_seconds(base: str, email: str) -> float:
    """How long one password verification takes here: the pace the races are set to."""
    started = time.monotonic()
    assert logs_in(base, email)
    return time.monotonic() - started


def race_offsets(verify: float, seed: int, count: int) -> list[float]:
    """When the racing writers start, in seconds after the account's deletion is sent: around
    the end of its password check (when its sessions are revoked and its projects swept), a
    little later each round, so that over the rounds one of them is in flight at that moment."""
    return [verify * (0.5 + 0.1 * seed + 0.03 * n) for n in range(count)]


def race_creates_against_account_delete(bases: list[str], seed: int) -> tuple[str, list[int]]:
    """Projects created by one session while another deletes the account; the user's id."""
    account = sign_up(bases)
    verify = login_seconds(bases[0], account.email)
    creator, deleter = account.sessions
    statuses: list[int] = []

    def create() -> bool:
        answer = creator.request("POST", "/projects", json={"name": f"late-{seed}"})
        statuses.append(answer.status_code)
        return answer.status_code == 201

    def delete_account() -> int:
        return deleter.request("DELETE", "/auth/me", json={"password": PASSWORD}).status_code

    offsets = race_offsets(verify, seed, CREATORS)
    try:
        results = in_parallel(
            [
                delete_account,
                *(lambda o=o: paced(o, verify / 40, CREATES_PER_CREATOR, create) for o in offsets),
            ]
        )
        assert results[0] == 204
        assert set(statuses) <= {201, 401, 404}, statuses
        assert not logs_in(bases[0], account.email)
    finally:
        account.close()
    return account.user_id, statuses


def race_project_deletes_against_account_delete(bases: list[str], seed: int) -> str:
    """The account deleted by one session while another deletes its projects; the user's id."""
    account = sign_up(bases)
    verify = login_seconds(bases[0], account.email)
    owner, deleter = account.sessions
    projects = [
        owner.request("POST", "/projects", json={"name": f"p{n}"}).json()["id"]
        for n in range(PROJECTS_PER_ACCOUNT)
    ]
    statuses: list[int] = []
    # Oldest first: the account's own sweep takes the newest first, so the two meet.
    queues = [projects[n::PROJECT_DELETERS] for n in range(PROJECT_DELETERS)]

    def delete_projects(queue: list[str], offset: float) -> None:
        def step() -> bool:
            if not queue:
                return False
            answer = owner.request("DELETE", f"/projects/{queue.pop(0)}")
            statuses.append(answer.status_code)
            return answer.status_code == 204

        paced(offset, verify / 40, len(queue), step)

    def delete_account() -> int:
        return deleter.request("DELETE", "/auth/me", json={"password": PASSWORD}).status_code

    offsets = race_offsets(verify, seed, PROJECT_DELETERS)
    try:
        results = in_parallel(
            [
                delete_account,
                *(
                    lambda q=q, o=o: delete_projects(q, o)
                    for q, o in zip(queues, offsets, strict=True)
                ),
            ]
        )
        assert results[0] == 204, (results[0], statuses)
        assert set(statuses) <= {204, 401, 404}, statuses
        assert not logs_in(bases[0], account.email)
    finally:
        account.close()
    return account.user_id


@pytest.mark.parametrize("database", STACKS)
def test_projects_created_while_the_account_is_deleted_do_not_outlive_it(
    request: pytest.FixtureRequest, tmp_path: Path, database: str
) -> None:
    values = stack_settings(request, tmp_path, database)
    gone: list[str] = []
    created: list[int] = []
    with servers(tmp_path, values) as [server]:
        for seed in range(ACCOUNT_ROUNDS):
            user_id, statuses = race_creates_against_account_delete([server.base_url], seed)
            gone.append(user_id)
            created += statuses
    print(f"\n{database}: creates answered {dict(Counter(created))}")
    assert 401 in created
    examine(values, [], gone)


@pytest.mark.parametrize("database", STACKS)
def test_an_account_deletion_racing_its_project_deletes_succeeds(
    request: pytest.FixtureRequest, tmp_path: Path, database: str
) -> None:
    values = stack_settings(request, tmp_path, database)
    with servers(tmp_path, values) as [server]:
        gone = [
            race_project_deletes_against_account_delete([server.base_url], seed)
            for seed in range(ACCOUNT_ROUNDS)
        ]
    examine(values, [], gone)


@pytest.mark.parametrize("database", SHARED_STACKS)
def test_two_servers_on_one_database_keep_no_record_of_a_deleted_parent(
    request: pytest.FixtureRequest, tmp_path: Path, database: str
) -> None:
    values = stack_settings(request, tmp_path, database)
    gone: list[str] = []
    with servers(tmp_path, values, count=2) as both:
        bases = [server.base_url for server in both]
        deleted, statuses = upload_rounds(bases)
        for seed in range(2):
            gone.append(race_creates_against_account_delete(bases, seed)[0])
            gone.append(race_project_deletes_against_account_delete(bases, seed))
        # The CLI a user runs, this release's, beside the live servers.
        report = subprocess.run(
            [str(HANGAR), "doctor"],
            cwd=tmp_path,
            env=server_env(values),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert report.returncode == 0, report.stdout + report.stderr
    print(f"\n{database} x2: uploads answered {dict(Counter(statuses))}")
    examine(values, deleted, gone)
