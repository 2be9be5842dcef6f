"""The README's curl walk-through, run verbatim against a real `hangar serve`."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.servers import running_server

README = Path(__file__).parents[2] / "README.md"


def shell_block(heading: str) -> str:
    section = README.read_text().split(f"## {heading}", 1)[1]
    return section.split("```sh", 1)[1].split("```", 1)[0]


def walkthrough() -> str:
    return shell_block("Try it with curl")


def run_verbatim(
    script: str, server: str, cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """A README shell block run as a reader's bash would, against `server` instead of
    `make run`'s address; failing on its first failed command."""
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.replace("http://127.0.0.1:8000", server)],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`hangar serve` with nothing configured, in an empty folder: the embedded default."""
    with running_server(tmp_path) as running:
        yield running.base_url


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through needs curl")
def test_the_readme_walkthrough_works_verbatim(server: str, tmp_path: Path) -> None:
    result = run_verbatim(walkthrough(), server, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines.count("Hello, Hangar!") == 2, result.stdout
    assert lines[-2:] == ["204", "204"]
    assert (tmp_path / "data" / "app.db").exists()
    assert not any((tmp_path / "uploads").rglob("*.txt"))


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through needs curl")
def test_the_readmes_two_ways_up_work_verbatim(server: str, tmp_path: Path) -> None:
    """The upload section, run after the walk-through's steps up to its project."""
    setup = walkthrough().split("# Upload a file", 1)[0]
    result = run_verbatim(setup + shell_block("Uploading files"), server, tmp_path)
    assert result.returncode == 0, result.stderr
    through, direct = (json.loads(line) for line in result.stdout.splitlines()[-2:])
    digest = hashlib.sha256((tmp_path / "big.bin").read_bytes()).hexdigest()
    assert through["sha256"] == direct["sha256"] == digest
    assert through["size"] == direct["size"] == 3_000_000


@pytest.mark.skipif(shutil.which("curl") is None, reason="the walk-through needs curl")
def test_the_readmes_password_reset_works_verbatim(tmp_path: Path) -> None:
    """The reset section, after the walk-through's registration, with the token read from the
    mail the console backend prints in the server's output, as a developer would."""
    log = tmp_path / "server.log"
    with running_server(tmp_path, log=log) as server:
        setup = walkthrough().split("# Create a project", 1)[0]
        block = shell_block("Forgotten passwords and administrators")
        ask, confirm = block.split("read -r", 1)
        run = run_verbatim(setup + ask, server.base_url, tmp_path)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout.splitlines()[-1])["detail"]
        token = _mailed_token(log, "/reset-password?token=")
        script = setup.split("TOKEN=", 1)[0] + "read -r" + confirm
        run = run_verbatim(script, server.base_url, tmp_path, stdin=token + "\n")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-2:] == ["204", "bearer"]


def _mailed_token(log: Path, marker: str, timeout: float = 10.0) -> str:
    """The token of the last link with `marker` in the server's output, once it is there (the
    mail is sent after the response)."""
    deadline = time.monotonic() + timeout
    while True:
        found = re.findall(re.escape(marker) + r"([A-Za-z0-9_\-]+)", log.read_text())
        if found:
            return str(found[-1])
        assert time.monotonic() < deadline, log.read_text()[-2000:]
        time.sleep(0.05)
