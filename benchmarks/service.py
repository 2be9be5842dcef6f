"""The service mode: the workload as plain calls to the services, one at a time, no HTTP.

It shows what the backends themselves cost (and, on AWS stacks, how many AWS requests each
operation makes and the capacity they consume), which the HTTP figures can be read against.
An authenticated operation also pays what every request pays before its service runs: the
token check and the caller's lookup.
"""

from __future__ import annotations

import io
import itertools
import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.context import AppContext
from app.core.config import Settings
from app.core.security import PasswordHasher
from app.models import User
from app.routers.auth import services as auth
from app.routers.auth.interface import UserRegister
from app.routers.files import services as files
from app.routers.projects import services as projects
from app.routers.projects.interface import ProjectCreate
from benchmarks import workload as w
from benchmarks.report import Report, Result, summarise

Log = Callable[[str], None]


class AwsCounter:
    """AWS requests by API name, and the capacity DynamoDB reports for them, via botocore
    event hooks on the process's boto3 session: clients created after `install` inherit them."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.capacity = 0.0

    def install(self) -> None:
        from app.core.aws import session

        events = session().events
        events.register("before-call", self._count)
        events.register("provide-client-params.dynamodb", self._ask_capacity)
        events.register("after-call.dynamodb", self._add_capacity)

    def reset(self) -> None:
        self.calls.clear()
        self.capacity = 0.0

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_id}.{model.name}"] += 1

    def _ask_capacity(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _add_capacity(self, parsed: dict[str, Any], **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity")
        for entry in consumed if isinstance(consumed, list) else [consumed] if consumed else []:
            self.capacity += float(entry.get("CapacityUnits", 0.0))


def measure(call: Callable[[int], object], count: int, seconds: float) -> tuple[list[float], float]:
    """Latencies of `call(0)`, `call(1)`, ... until `count` calls or `seconds` have passed."""
    latencies: list[float] = []
    start = time.perf_counter()
    deadline = start + seconds
    for index in range(count):
        began = time.perf_counter()
        call(index)
        latencies.append(time.perf_counter() - began)
        if began > deadline:
            break
    return latencies, time.perf_counter() - start


def stack_settings(stack: w.Stack, folder: Path, aws_endpoint: str | None) -> Settings:
    from benchmarks.servers import stack_env

    env = stack_env(stack, folder, aws_endpoint)
    fields: dict[str, Any] = {name: env[name] for name in Settings.model_fields if name in env}
    return Settings(_env_file=None, **fields)


@contextmanager
def open_context(settings: Settings) -> Iterator[AppContext]:
    context = AppContext.from_settings(settings)
    try:
        yield context
    finally:
        context.backends.close()


def measure_stack(
    stack: w.Stack,
    folder: Path,
    workload: w.Workload,
    aws_endpoint: str | None,
    counter: AwsCounter,
    log: Log,
) -> list[Result]:
    results: list[Result] = []
    with open_context(stack_settings(stack, folder, aws_endpoint)) as context:
        b = context.backends

        def timed(operation: str, call: Callable[[int], object], count: int) -> None:
            counter.reset()
            latencies, elapsed = measure(call, count, workload.seconds)
            result = summarise("service", stack.label, operation, latencies, elapsed)
            if stack.uses_aws and latencies:
                n = len(latencies)
                result.aws_calls = {k: round(v / n, 2) for k, v in counter.calls.items()}
                if counter.capacity:
                    result.capacity_units = round(counter.capacity / n, 2)
            results.append(result)
            log(f"  {stack.label} {operation}: {result.ops_per_s:,.0f}/s")

        def caller(token: str) -> User:
            """What every authenticated request does before its service runs."""
            user, _ = auth.authorize(token, sessions=b.session_repo, tokens=context.tokens)
            return user

        def register(i: int) -> object:
            data = UserRegister(email=w.email(i), password=w.PASSWORD)
            return auth.register_user(data, b.user_repo, context.hasher)

        def log_in(user: int) -> str:
            pair = auth.login(
                w.email(user),
                w.PASSWORD,
                repo=b.user_repo,
                sessions=b.session_repo,
                hasher=context.hasher,
                tokens=context.tokens,
                throttle=context.throttle,
            )
            return pair.access_token

        timed(w.REGISTER, register, workload.users)
        login_users = w.login_users(workload.users)
        for user in login_users[: w.warm_up_logins(len(login_users))]:
            log_in(user)
        tokens: list[str] = []
        timed(w.LOGIN, lambda i: tokens.append(log_in(login_users[i])), len(login_users))
        del tokens[workload.users :]  # one per user, in order: login_users starts with each
        project_ids: list[tuple[int, str]] = []

        def create(i: int) -> object:
            owner = caller(tokens[i % len(tokens)])
            data = ProjectCreate(name=f"Project {i}", description="benchmark")
            project = projects.create_project(data, owner=owner, repo=b.project_repo)
            project_ids.append((i % len(tokens), project.id))
            return project

        timed(w.CREATE_PROJECT, create, workload.projects)
        for index in range(len(project_ids), workload.projects):
            create(index)  # the timed run stopped early: seed the rest, so lists see them all
        cycle = itertools.cycle(project_ids)

        def get(_: int) -> object:
            user, project_id = next(cycle)
            owner = caller(tokens[user])
            return projects.get_owned_project(project_id, owner=owner, repo=b.project_repo)

        def page(i: int) -> object:
            owner = caller(tokens[i % len(tokens)])
            return projects.list_projects(owner=owner, repo=b.project_repo, limit=w.PAGE_SIZE)

        timed(w.GET_PROJECT, get, workload.requests)
        timed(w.LIST_PROJECTS, page, workload.requests)
        content = w.file_bytes()
        records: list[tuple[int, Any]] = []

        def upload(i: int) -> object:
            user, project_id = project_ids[i % len(project_ids)]
            record = files.upload_file(
                project_id,
                io.BytesIO(content),
                owner=caller(tokens[user]),
                filename="bench.bin",
                content_type="application/octet-stream",
                max_bytes=context.settings.MAX_UPLOAD_BYTES,
                project_repo=b.project_repo,
                file_repo=b.file_repo,
                storage=b.file_storage,
            )
            records.append((user, record))
            return record

        def owned(i: int) -> Any:
            user, record = records[i % len(records)]
            return files.get_file(
                record.project_id,
                record.id,
                owner=caller(tokens[user]),
                project_repo=b.project_repo,
                file_repo=b.file_repo,
            )

        def download(i: int) -> object:
            return sum(len(c) for c in files.open_file(owned(i), storage=b.file_storage))

        def presign(i: int) -> object:
            return files.presign_file(owned(i), storage=b.file_storage, expires_in=3600)

        timed(w.UPLOAD, upload, workload.files)
        timed(w.DOWNLOAD, download, workload.files)
        timed(w.PRESIGN, presign, workload.requests)
    return results


class PasswordVerification:
    """One argon2id verification with the configured parameters, the floor of a login. It is
    timed right before each login of the HTTP mode: timed once at the start of a run it was
    29 ms in one run and 42 ms in another, while logins took 40 ms in both, as the machine's
    speed drifted between the two moments."""

    def __init__(self, settings: Settings) -> None:
        self.hasher = PasswordHasher(
            settings.ARGON2_MEMORY_KIB, settings.ARGON2_TIME_COST, settings.ARGON2_PARALLELISM
        )
        self.stored = self.hasher.hash(w.PASSWORD)
        self.taken_ms: list[float] = []

    def time_ms(self, rounds: int) -> list[float]:
        latencies, _ = measure(
            lambda _: self.hasher.verify_and_update(w.PASSWORD, self.stored), rounds, 30
        )
        taken = [latency * 1000 for latency in latencies]
        self.taken_ms += taken
        return taken

    def median_ms(self) -> float:
        """Over every timing taken so far (timed now if there was none)."""
        return round(statistics.median(self.taken_ms or self.time_ms(10)), 2)


def run_service(
    stacks: list[w.Stack],
    folder: Path,
    workload: w.Workload,
    report: Report,
    aws_endpoint: str | None,
    log: Log,
) -> None:
    counter = AwsCounter()
    if any(stack.uses_aws for stack in stacks):
        counter.install()
    for stack in stacks:
        report.results += measure_stack(
            stack, folder / stack.label, workload, aws_endpoint, counter, log
        )
