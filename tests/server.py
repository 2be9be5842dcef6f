"""A real `hangar serve` in a subprocess on 127.0.0.1, for the tests that need the whole server:
the README walk-through, load, crash and shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

HANGAR = Path(sys.executable).with_name("hangar")
START_TIMEOUT_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(settings: Mapping[str, object] | None = None) -> dict[str, str]:
    """This process's environment without any Hangar backend choice, plus `settings`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "STORAGE_", "APP_ENV"))
    }
    env.update({name: str(value) for name, value in (settings or {}).items()})
    return env


class Server:
    """One `hangar serve` process; its output goes to `log` (if given) for later checks."""

    def __init__(
        self,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        args: tuple[str, ...] = (),
        log: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = log
        with (log or Path(os.devnull)).open("ab") as output:
            self.process = subprocess.Popen(
                [str(HANGAR), "serve", "--port", str(self.port), *args],
                cwd=cwd,
                env=dict(env) if env is not None else server_env(),
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"hangar serve exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.base_url}/api/v1/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"hangar serve did not start within {START_TIMEOUT_SECONDS} s")

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as a process manager would, and the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        self.process.kill()
        self.process.wait(timeout=10)


@contextmanager
def running_server(
    cwd: Path,
    env: Mapping[str, str] | None = None,
    args: tuple[str, ...] = (),
    log: Path | None = None,
) -> Iterator[Server]:
    """A started server, stopped (or killed, if it will not stop) on exit."""
    server = Server(cwd, env, args, log)
    try:
        server.wait_ready()
        yield server
    finally:
        try:
            server.stop(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
