"""Local storage on a disk that is full, for real: a tiny tmpfs mounted under the test's folder
(needs root; skipped otherwise). /health names the storage, an upload answers 507 naming it and
leaves nothing behind."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.storage.local import MIN_FREE_BYTES
from tests.client_fixtures import create_project, files_url, register
from tests.client_fixtures import login as log_in
from tests.conftest import SettingsFactory

MIB = 1024 * 1024


def mounted(folder: Path, size: int) -> Iterator[Path]:
    folder.mkdir(parents=True)
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A disk with room for MIN_FREE_BYTES and 1 MiB more."""
    yield from mounted(tmp_path / "uploads", MIN_FREE_BYTES + MIB)


def client_on(make_settings: SettingsFactory, root: Path) -> TestClient:
    settings = make_settings(
        LOCAL_STORAGE_PATH=root, STORAGE_TYPE="local", MAX_UPLOAD_BYTES=64 * MIB
    )
    return TestClient(create_app(settings))


def test_health_names_the_storage_once_its_disk_is_nearly_full(
    make_settings: SettingsFactory, small_disk: Path
) -> None:
    with client_on(make_settings, small_disk) as client:
        assert client.get("/api/v1/health").status_code == 200
        (small_disk / "filler").write_bytes(b"x" * 2 * MIB)
        response = client.get("/api/v1/health")
        assert (response.status_code, response.json()) == (
            503,
            {"status": "unavailable", "database": "ok", "storage": "unavailable"},
        )


def test_an_upload_the_disk_cannot_hold_is_a_507_naming_the_storage(
    make_settings: SettingsFactory, small_disk: Path
) -> None:
    with client_on(make_settings, small_disk) as client:
        register(client, "ada@example.com")
        headers = log_in(client, "ada@example.com")
        project = str(create_project(client, headers, "Apollo")["id"])
        big = b"x" * (MIN_FREE_BYTES + 2 * MIB)
        response = client.post(
            files_url(project), files={"file": ("big.bin", big)}, headers=headers
        )
        assert response.status_code == 507, response.text
        assert "storage" in response.json()["detail"].lower()
        assert client.get(files_url(project), headers=headers).json()["items"] == []
        left = [
            p
            for p in small_disk.rglob("*")
            if p.is_file() and not p.name.startswith(".hangar-database-")
        ]
        assert left == []
