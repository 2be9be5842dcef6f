"""Prototype to production and back: duckdb + local -> sqlite + local -> dynamodb + s3 ->
duckdb + local, checked item by item, byte by byte and through the API at every stop."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from app.core.config import Settings
from app.main import create_app
from app.migration.engine import Mode
from tests.client_fixtures import PASSWORD, create_project, files_url, login, register, upload
from tests.conftest import SettingsFactory
from tests.migration.support import MIB, migrate, snapshot

SIZES = {"empty.txt": 0, "one.txt": 1, "medium.bin": 300_000, "large.bin": 9 * MIB}
"""large.bin is over S3Storage's 8 MiB multipart threshold."""


def content(size: int) -> bytes:
    return (b"hangar-" * (size // 7 + 1))[:size]


def walk_projects(client: TestClient, headers: dict[str, str]) -> tuple[list[str], str]:
    """Project ids page by page (one per page), and the cursor of the second page."""
    ids, cursor, second = [], None, ""
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        body = client.get("/api/v1/projects", params=params, headers=headers).json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        second = second or cursor or ""
        if cursor is None:
            return ids, second


def check_through_the_api(settings: Settings, projects: list[str], second_page: str) -> None:
    """Log in with the original password, page with an old cursor, download every file."""
    with TestClient(create_app(settings)) as client:
        headers = login(client, "alice@example.com", PASSWORD)
        assert walk_projects(client, headers)[0] == projects
        page = client.get(
            "/api/v1/projects", params={"limit": 1, "cursor": second_page}, headers=headers
        )
        assert [item["id"] for item in page.json()["items"]] == projects[1:2]
        for project_id in projects:
            for item in client.get(files_url(project_id), headers=headers).json()["items"]:
                data = client.get(files_url(project_id, f"/{item['id']}/content"), headers=headers)
                assert data.content == content(SIZES[item["filename"]])


def test_round_trip_through_every_engine_keeps_ids_timestamps_order_and_bytes(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    source = make_settings("duckdb", "local")
    with TestClient(create_app(source)) as client:
        register(client, "alice@example.com")
        register(client, "bob@example.com")
        alice = login(client, "alice@example.com")
        for name in ("Apollo", "Gemini", "Mercury"):
            project = create_project(client, alice, name, description=f"{name} notes")
            for filename, size in SIZES.items():
                if name == "Apollo" or filename == "one.txt":
                    upload(client, alice, str(project["id"]), filename, content(size))
        projects, second_page = walk_projects(client, alice)
    expected = snapshot(source)
    stops = [
        make_settings("sqlite", "local", LOCAL_STORAGE_PATH=tmp_path / "uploads-sqlite"),
        make_settings("dynamodb", "s3"),
        make_settings(
            "duckdb",
            "local",
            DUCKDB_PATH=tmp_path / "back" / "app.db",
            LOCAL_STORAGE_PATH=tmp_path / "uploads-back",
        ),
    ]
    previous = source
    for stop in stops:
        report = migrate(previous, stop)
        assert report.problems == []
        assert report.changes == 2 + 3 + 6
        assert migrate(previous, stop, mode=Mode.VERIFY).problems == []
        assert snapshot(stop) == expected
        check_through_the_api(stop, projects, second_page)
        previous = stop
