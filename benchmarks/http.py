"""The HTTP mode: `hangar serve` in a temporary folder, driven by the `load` client process,
every figure also a ratio to the reference app measured the same way in the same run."""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import workload as w
from benchmarks.load import Job, Outcome, read_response, request_bytes
from benchmarks.report import Report, Result, steady_rate, summarise
from benchmarks.servers import reference_command, running_server, stack_env

if TYPE_CHECKING:
    from benchmarks.service import PasswordVerification

API = "/api/v1"
# Operations measured next to a fresh reference run; the others reuse the latest one.
THROUGHPUT_OPERATIONS = {w.CREATE_PROJECT, w.GET_PROJECT, w.LIST_PROJECTS, w.PRESIGN}
# Reads run a tenth of their requests untimed first (creates: the first tenth of the projects),
# as the reference does: a fresh server's first thousands of requests of a kind cost up to a
# third more (a page: 749, then 639, then 559 us of server CPU in three runs in a row), which a
# server that has been up for minutes no longer pays.
WARMED_UP_OPERATIONS = {w.GET_PROJECT, w.LIST_PROJECTS, w.PRESIGN}
PAIRS = 3
"""A throughput operation runs in this many slices, each right after a reference run of the
same size, and the pair with the middle ratio is reported: the machine's speed swings by a
third within seconds, and the middle of three adjacent pairs is far steadier than one pair."""


def warm_up(count: int) -> int:
    return min(count // 2, max(100, count // 10))


Log = Callable[[str], None]


class LoadRunner:
    """Runs one load job in a separate process against one port."""

    def __init__(self, folder: Path, port: int, workload: w.Workload) -> None:
        self.folder = folder
        self.port = port
        self.workload = workload

    def run(
        self,
        requests: list[bytes],
        count: int,
        *,
        connections: int | None = None,
        keep_bodies: bool = False,
        seconds: float | None = None,
    ) -> Outcome:
        job = Job(
            port=self.port,
            requests=requests,
            count=count,
            connections=connections or self.workload.concurrency,
            seconds=seconds or self.workload.seconds,
            keep_bodies=keep_bodies,
        )
        name = uuid.uuid4().hex
        job_path, result_path = self.folder / f"{name}.job", self.folder / f"{name}.json"
        job_path.write_text(job.to_json())
        subprocess.run(  # noqa: S603
            [sys.executable, "-m", "benchmarks.load", str(job_path), str(result_path)],
            check=True,
            timeout=job.seconds + 120,
        )
        fields = json.loads(result_path.read_text())
        job_path.unlink()
        result_path.unlink()
        return Outcome(**fields)


def _errors(outcome: Outcome) -> int:
    return sum(n for status, n in outcome.statuses.items() if not status.startswith("2"))


def _bodies(outcome: Outcome) -> dict[int, dict[str, object]]:
    """Parsed JSON bodies of successful requests, by request index."""
    parsed = {int(i): json.loads(body) for i, body in outcome.bodies.items()}
    return {
        i: body for i, body in parsed.items() if isinstance(body, dict) and "detail" not in body
    }


def between_verifications(
    port: int, requests: list[bytes], verification: PasswordVerification, seconds: float
) -> tuple[Outcome, list[float]]:
    """The requests one at a time over one keep-alive connection, each right after a password
    verification timed here, so that each login has a verification beside it: the machine's
    speed drifts within seconds (the median of verifications timed before and after a batch of
    logins was 30.5 ms in one run and 37.6 ms in the next), and a batch away is too far."""

    verifications: list[float] = []

    async def drive() -> Outcome:
        outcome = Outcome(elapsed=0.0)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.perf_counter()
        try:
            for index, request in enumerate(requests):
                if time.perf_counter() > start + seconds:
                    break
                verifications.extend(verification.time_ms(1))
                sent = time.perf_counter()
                writer.write(request)
                status, body = await read_response(reader)
                outcome.add(index, status, body, sent=sent, start=start)
        finally:
            writer.close()
        outcome.elapsed = time.perf_counter() - start
        return outcome

    return asyncio.run(drive()), verifications


def multipart(filename: str, content: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode(), (
        f"multipart/form-data; boundary={boundary}"
    )


class Reference:
    """The bare app, running through the whole HTTP mode and measured again right before each
    slice of a throughput operation, so that a ratio compares two runs a second apart rather
    than minutes: a shared machine's speed drifts by a fifth or more within a run. Logins are
    compared with a password verification timed right before each, for the same reason."""

    def __init__(self, load: LoadRunner, verification: PasswordVerification) -> None:
        self.load = load
        self.verification = verification
        self.measured: list[Result] = []

    def measure(self, count: int | None = None, seconds: float | None = None) -> Result:
        outcome = self.load.run(
            [request_bytes("GET", "/")], count or self.load.workload.requests, seconds=seconds
        )
        result = summarise(
            "http",
            "bare FastAPI",
            w.REFERENCE,
            outcome.latencies,
            outcome.elapsed,
            rate=steady_rate(outcome.completed),
        )
        self.measured.append(result)
        return result

    def summary(self, stack: str, since: int) -> Result:
        """The median of the measurements taken next to one stack, as that stack's row."""
        taken = sorted(self.measured[since:], key=lambda r: r.ops_per_s)
        return replace(taken[len(taken) // 2], stack=f"bare FastAPI, next to {stack}")


def measure_stack(
    stack: w.Stack,
    folder: Path,
    workload: w.Workload,
    reference: Reference,
    aws_endpoint: str | None,
    log: Log,
) -> list[Result]:
    """Every operation against one server, in an order where each seeds the next."""
    env = stack_env(stack, folder, aws_endpoint, MAX_UPLOAD_BYTES=str(4 * w.MIB))
    workers = ("--workers", str(stack.workers))
    results: list[Result] = []
    first_reference = len(reference.measured)
    adjacent = reference.measure()

    def timed(operation: str, requests: list[bytes], count: int, **options: Any) -> Outcome:
        nonlocal adjacent
        if operation in WARMED_UP_OPERATIONS and warm_up(count):
            load.run(requests, warm_up(count))
        rate: float | None
        if operation in THROUGHPUT_OPERATIONS:
            outcome, rate, adjacent = paired(requests, count, **options)
        else:
            outcome = load.run(requests, count, **options)
            rate = steady_rate(outcome.completed)
        return record(operation, outcome, rate)

    def record(operation: str, outcome: Outcome, rate: float | None) -> Outcome:
        result = summarise(
            "http",
            stack.label,
            operation,
            outcome.latencies,
            outcome.elapsed,
            _errors(outcome),
            rate=rate,
        )
        result.ratio = round(result.ops_per_s / adjacent.ops_per_s, 3)
        result.reference_ops_per_s = adjacent.ops_per_s
        results.append(result)
        log(f"  {stack.label} {operation}: {result.ops_per_s:,.0f}/s x{result.ratio:.2f}")
        return outcome

    def paired(requests: list[bytes], count: int, **options: Any) -> tuple[Outcome, float, Result]:
        """`count` requests in PAIRS slices, each after a reference run of its size: all the
        slices' outcomes as one (bodies by index over the whole run), and the rate of the
        slice and the reference of the pair with the middle ratio."""
        seconds = workload.seconds / PAIRS
        merged = Outcome(elapsed=0.0)
        pairs: list[tuple[float, float, Result]] = []
        bounds = [count * k // PAIRS for k in range(PAIRS + 1)]
        for start, end in pairwise(bounds):
            if end == start:
                continue
            ref = reference.measure(end - start, seconds)
            part = [requests[i % len(requests)] for i in range(start, end)]
            outcome = load.run(part, len(part), seconds=seconds, **options)
            rate = steady_rate(outcome.completed) or len(outcome.latencies) / outcome.elapsed
            pairs.append((rate / ref.ops_per_s, rate, ref))
            merged.elapsed += outcome.elapsed
            merged.latencies += outcome.latencies
            for status, n in outcome.statuses.items():
                merged.statuses[status] = merged.statuses.get(status, 0) + n
            merged.bodies.update({str(start + int(i)): b for i, b in outcome.bodies.items()})
        _, rate, ref = sorted(pairs, key=lambda pair: pair[0])[len(pairs) // 2]
        return merged, rate, ref

    with running_server(folder, env, workers, folder / "server.log") as server:
        load = LoadRunner(folder, server.port, workload)
        json_type = "application/json"
        users = range(workload.users)
        registers = [
            request_bytes(
                "POST",
                f"{API}/auth/register",
                body=json.dumps({"email": w.email(i), "password": w.PASSWORD}).encode(),
                content_type=json_type,
            )
            for i in users
        ]
        timed(w.REGISTER, registers, len(registers))

        logins = [
            request_bytes(
                "POST",
                f"{API}/auth/login",
                body=f"username={w.email(i)}&password={w.PASSWORD}".encode(),
                content_type="application/x-www-form-urlencoded",
            )
            for i in w.login_users(workload.users)
        ]
        # One at a time: login is a latency target, compared with one password verification.
        warm = w.warm_up_logins(len(logins))
        load.run(logins[:warm], warm, connections=1)
        outcome, verifications = between_verifications(
            server.port, logins, reference.verification, workload.seconds
        )
        # Logins of one connection, back to back: the verifications between are not theirs.
        record(w.LOGIN, outcome, len(outcome.latencies) / sum(outcome.latencies))
        results[-1].reference_ms = round(statistics.median(verifications), 2)
        bodies = _bodies(outcome)
        auth = [
            {"Authorization": f"Bearer {bodies[i]['access_token']}"} for i in users if i in bodies
        ]
        if len(auth) < workload.users:
            raise RuntimeError(f"{stack.label}: only {len(auth)} of {workload.users} logins")

        creates = [
            request_bytes(
                "POST",
                f"{API}/projects",
                headers=auth[i % len(auth)],
                body=json.dumps({"name": f"Project {i}", "description": "benchmark"}).encode(),
                content_type=json_type,
            )
            for i in range(workload.projects)
        ]
        warm = warm_up(len(creates))
        if warm:
            load.run(creates[:warm], warm)
        outcome = timed(w.CREATE_PROJECT, creates[warm:], len(creates) - warm, keep_bodies=True)
        projects = [
            ((warm + i) % len(auth), str(b["id"])) for i, b in sorted(_bodies(outcome).items())
        ]
        sent = {int(i) for i in outcome.bodies}
        rest = [r for i, r in enumerate(creates[warm:]) if i not in sent]
        if rest:  # the timed run stopped early: seed the rest untimed, so lists see them all
            load.run(rest, len(rest), seconds=w.SEED_SECONDS)

        gets = [
            request_bytes("GET", f"{API}/projects/{pid}", headers=auth[user])
            for user, pid in projects[:2000]
        ]
        timed(w.GET_PROJECT, gets, workload.requests)
        lists = [
            request_bytes("GET", f"{API}/projects?limit={w.PAGE_SIZE}", headers=header)
            for header in auth
        ]
        timed(w.LIST_PROJECTS, lists, workload.requests)

        body, content_type = multipart("bench.bin", w.file_bytes())
        targets = [projects[i % len(projects)] for i in range(min(workload.files, 8))]
        uploads = [
            request_bytes(
                "POST",
                f"{API}/projects/{pid}/files",
                headers=auth[user],
                body=body,
                content_type=content_type,
            )
            for user, pid in targets
        ]
        outcome = timed(w.UPLOAD, uploads, workload.files, keep_bodies=True)
        files = [
            (
                auth[targets[i % len(targets)][0]],
                f"{API}/projects/{b['project_id']}/files/{b['id']}",
            )
            for i, b in sorted(_bodies(outcome).items())
        ]
        downloads = [request_bytes("GET", f"{path}/content", headers=h) for h, path in files]
        timed(w.DOWNLOAD, downloads, workload.files)
        presigns = [request_bytes("GET", f"{path}/url", headers=h) for h, path in files]
        timed(w.PRESIGN, presigns, workload.requests)
    return [reference.summary(stack.label, first_reference), *results]


def run_http(
    stacks: list[w.Stack],
    folder: Path,
    workload: w.Workload,
    report: Report,
    verification: PasswordVerification,
    aws_endpoint: str | None,
    log: Log,
) -> None:
    reference_folder = folder / "reference"
    env = stack_env(w.Stack("memory", "memory"), reference_folder, None)
    with running_server(
        reference_folder,
        env,
        log=reference_folder / "server.log",
        program=reference_command,
        ready_path="/",
    ) as server:
        load = LoadRunner(reference_folder, server.port, workload)
        load.run([request_bytes("GET", "/")], 200)  # warm-up
        reference = Reference(load, verification)
        for stack in stacks:
            stack_folder = folder / stack.label.replace(" ", "-")
            results = measure_stack(stack, stack_folder, workload, reference, aws_endpoint, log)
            log(f"  bare FastAPI route next to {stack.label}: {results[0].ops_per_s:,.0f}/s")
            report.results += results
