"""Processes the bench starts and stops: `hangar serve`, the reference app, a moto server;
and how their memory is read (/proc, so no psutil)."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from app.bench.workload import Stack
from app.cli import UVICORN_OPTIONS

START_SECONDS = 60.0
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status < 500
    except OSError:
        return False
    finally:
        connection.close()


@contextmanager
def running(
    command: list[str], *, port: int, ready_path: str, folder: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """Start a server process, wait until `ready_path` answers, stop it on exit; its output
    goes to a log file in `folder`, quoted if it fails to start."""
    folder.mkdir(parents=True, exist_ok=True)
    log_path = folder / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=log)  # noqa: S603
    try:
        deadline = time.monotonic() + START_SECONDS
        while not _answers(port, ready_path):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"{' '.join(command)} did not start:\n{log_path.read_text()[-2000:]}"
                )
            time.sleep(0.1)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def hangar_command(port: int, workers: int) -> list[str]:
    hangar = Path(sys.executable).with_name("hangar")
    executable = str(hangar) if hangar.exists() else shutil.which("hangar") or "hangar"
    return [executable, "serve", "--port", str(port), "--workers", str(workers)]


def reference_command(port: int) -> list[str]:
    """uvicorn with the options `hangar serve` passes, one worker, no access log."""
    options = [f"--{name}={value}" for name, value in UVICORN_OPTIONS.items()]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "app.bench.reference:app",
        "--host=127.0.0.1",
        f"--port={port}",
        "--workers=1",
        "--no-access-log",
        *options,
    ]


def stack_env(stack: Stack, folder: Path, aws_endpoint: str | None, **extra: str) -> dict[str, str]:
    """The environment of a Hangar server (or in-process stack) on `stack`, files in `folder`,
    AWS resources uniquely named so runs never share tables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "STORAGE_", "APP_ENV", "AWS_", "DYNAMODB_", "S3_"))
    }
    name = f"hangar-bench-{uuid.uuid4().hex[:12]}"
    env.update(
        APP_ENV="bench",
        DATABASE_TYPE=stack.database,
        STORAGE_TYPE=stack.storage,
        DUCKDB_PATH=str(folder / "data" / "app.db"),
        SQLITE_PATH=str(folder / "data" / "app.sqlite3"),
        LOCAL_STORAGE_PATH=str(folder / "uploads"),
        **extra,
    )
    if stack.uses_aws:
        if aws_endpoint is None:
            raise RuntimeError(f"{stack.label} needs an AWS endpoint")
        env.update(
            AWS_ENDPOINT_URL=aws_endpoint,
            AWS_AUTO_CREATE="true",
            DYNAMODB_TABLE_PREFIX=f"{name}-",
            S3_BUCKET=name,
        )
        if aws_endpoint.startswith("http://127.0.0.1"):
            env.update(DUMMY_AWS)
    return env


@contextmanager
def moto_server(folder: Path) -> Iterator[str]:
    """A local moto server (the dev dependency) for the dynamodb and s3 stacks."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    env = {**os.environ, **DUMMY_AWS}
    with running(command, port=port, ready_path="/moto-api/", folder=folder, env=env):
        yield f"http://127.0.0.1:{port}"


def _status_kib(pid: int, field: str) -> int:
    with suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def rss_kib(pid: int) -> int:
    """Resident memory now."""
    return _status_kib(pid, "VmRSS")


def peak_rss_kib(pid: int) -> int:
    """The highest resident memory since the process started (the kernel's high-water mark)."""
    return _status_kib(pid, "VmHWM")
