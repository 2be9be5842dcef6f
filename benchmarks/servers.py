"""The server processes the tests and the benchmark start and stop on 127.0.0.1 (`hangar serve`,
the reference app, a moto server), the environment they get, and how their memory is read
(/proc, so no psutil).

It lives in `benchmarks/` rather than `tests/` so that imports go one way, tests -> benchmarks
-> app: the benchmark runs without the test suite, and the app imports neither.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NoReturn

from app.cli import UVICORN_OPTIONS
from app.core.config import Settings
from benchmarks.workload import Stack

_BESIDE_PYTHON = Path(sys.executable).with_name("hangar")
HANGAR = _BESIDE_PYTHON if _BESIDE_PYTHON.exists() else Path(shutil.which("hangar") or "hangar")
HEALTH_PATH = "/api/v1/health"
START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 30.0
BACKEND_VARIABLES = ("DATABASE_", "STORAGE_", "APP_ENV")
AWS_VARIABLES = ("AWS_", "DYNAMODB_", "S3_")
DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_REGION": "us-east-1",
}

Program = Callable[[int], list[str]]
"""A server's command line, given the port it is to listen on."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def hangar_serve(port: int) -> list[str]:
    return [str(HANGAR), "serve", "--port", str(port)]


def reference_command(port: int) -> list[str]:
    """uvicorn with the options `hangar serve` passes, one worker, no access log."""
    options = [f"--{name}={value}" for name, value in UVICORN_OPTIONS.items()]
    return [
        sys.executable,
        "-m",
        "uvicorn",
        "benchmarks.reference:app",
        "--host=127.0.0.1",
        f"--port={port}",
        "--workers=1",
        "--no-access-log",
        *options,
    ]


def moto_command(port: int) -> list[str]:
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


class Server:
    """One server process on a free port: `program(port)` followed by `args` (by default
    `hangar serve`), run in `cwd` (created if missing), its output appended to `log` if given.
    As a context manager: ready on entry, stopped (or killed, if it will not stop) on exit."""

    def __init__(
        self,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
        log: Path | None = None,
        *,
        program: Program = hangar_serve,
        ready_path: str = HEALTH_PATH,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.command = [*program(self.port), *args]
        self.ready_path = ready_path
        self.log = log
        cwd.mkdir(parents=True, exist_ok=True)
        with (log or Path(os.devnull)).open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 (our own commands)
                self.command,
                cwd=cwd,
                env=dict(env) if env is not None else server_env(),
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def answers(self) -> bool:
        """Whether `ready_path` answers, with anything below 500."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        try:
            connection.request("GET", self.ready_path)
            return connection.getresponse().status < 500
        except OSError:
            return False
        finally:
            connection.close()

    def wait_ready(self, timeout: float = START_TIMEOUT_SECONDS, interval: float = 0.1) -> None:
        """Return once the server answers, asking every `interval` seconds; raise, quoting its
        log, if it exits or `timeout` seconds pass first."""
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None:
                self._fail(f"exited with {self.process.returncode}")
            if time.monotonic() > deadline:
                self._fail(f"did not start within {timeout:g} s")
            time.sleep(interval)

    def _fail(self, reason: str) -> NoReturn:
        output = self.log.read_text(errors="replace")[-2000:] if self.log else ""
        raise RuntimeError(f"{' '.join(self.command)} {reason}\n{output}".rstrip())

    def stop(self, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """SIGTERM, as a process manager would, and the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        self.process.kill()
        self.process.wait(timeout=10)

    def close(self) -> None:
        """Stop, or kill if it will not stop."""
        try:
            self.stop()
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> Server:
        try:
            self.wait_ready()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


running_server = Server
"""The name that reads as what `with running_server(...) as server:` does."""


def server_env(
    settings: Mapping[str, object] | None = None, *, keep_aws: bool = True
) -> dict[str, str]:
    """This process's environment without any Hangar backend choice (nor, unless `keep_aws`,
    any AWS configuration), plus `settings`."""
    dropped = BACKEND_VARIABLES if keep_aws else BACKEND_VARIABLES + AWS_VARIABLES
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped)}
    env.update({name: str(value) for name, value in (settings or {}).items()})
    return env


def local_paths(folder: Path) -> dict[str, Path]:
    """Every path setting (database files, local storage, journal) at its default place, but
    under `folder` instead of the working directory."""
    return {
        name: folder / field.default
        for name, field in Settings.model_fields.items()
        if isinstance(field.default, Path)
    }


def stack_env(stack: Stack, folder: Path, aws_endpoint: str | None, **extra: str) -> dict[str, str]:
    """The environment of a Hangar server (or in-process stack) on `stack`, files in `folder`,
    AWS resources uniquely named so runs never share tables."""
    settings: dict[str, object] = {
        "APP_ENV": "test",  # throwaway: the development key is allowed; no .env.test in `folder`
        "DATABASE_TYPE": stack.database,
        "STORAGE_TYPE": stack.storage,
        **local_paths(folder),
        **extra,
    }
    if stack.uses_aws:
        if aws_endpoint is None:
            raise RuntimeError(f"{stack.label} needs an AWS endpoint")
        name = f"hangar-bench-{uuid.uuid4().hex[:12]}"
        settings.update(
            AWS_ENDPOINT_URL=aws_endpoint,
            AWS_AUTO_CREATE="true",
            DYNAMODB_TABLE_PREFIX=f"{name}-",
            S3_BUCKET=name,
        )
        if aws_endpoint.startswith("http://127.0.0.1"):
            settings.update(DUMMY_AWS)
    return server_env(settings, keep_aws=False)


@contextmanager
def moto_server(folder: Path) -> Iterator[str]:
    """A local moto server (the dev dependency) for the dynamodb and s3 stacks: its URL."""
    env = {**os.environ, **DUMMY_AWS}
    log = folder / "server.log"
    with running_server(
        folder, env, log=log, program=moto_command, ready_path="/moto-api/"
    ) as moto:
        yield moto.base_url


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
