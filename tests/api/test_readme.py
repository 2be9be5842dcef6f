"""The README's curl walk-through, run verbatim against a real `hangar serve`."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

README = Path(__file__).parents[2] / "README.md"


def walkthrough() -> str:
    section = README.read_text().split("## Try it with curl", 1)[1]
    return section.split("```sh", 1)[1].split("```", 1)[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`hangar serve` with nothing configured, in an empty folder: the embedded default."""
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_", "STORAGE_", "APP_ENV"))
    }
    hangar = Path(sys.executable).with_name("hangar")
    process = subprocess.Popen(
        [str(hangar), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("hangar serve did not start within 30 s")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through needs curl")
def test_the_readme_walkthrough_works_verbatim(server: str, tmp_path: Path) -> None:
    script = walkthrough().replace("http://127.0.0.1:8000", server)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines.count("Hello, Hangar!") == 2, result.stdout
    assert lines[-2:] == ["204", "204"]
    assert (tmp_path / "data" / "app.db").exists()
    assert not any((tmp_path / "uploads").rglob("*.txt"))
