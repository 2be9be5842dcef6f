"""/docs and /redoc render and work in a real browser with no network beyond 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import OfflinePage

SCREENSHOTS = Path("/tmp")
EMAIL = "docs-reader@example.com"
PASSWORD = "correct horse battery staple"
PROJECT = "Seen through Swagger UI"


def test_swagger_ui_logs_in_and_lists_projects_offline(base_url: str, offline: OfflinePage) -> None:
    register = httpx.post(
        f"{base_url}/api/v1/auth/register", json={"email": EMAIL, "password": PASSWORD}
    )
    assert register.status_code == 201, register.text
    login = httpx.post(
        f"{base_url}/api/v1/auth/login", data={"username": EMAIL, "password": PASSWORD}
    )
    token = login.json()["access_token"]
    created = httpx.post(
        f"{base_url}/api/v1/projects",
        json={"name": PROJECT},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.text

    page = offline.page
    page.goto(f"{base_url}/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    assert page.locator(".opblock").count() > 10

    page.locator("button.authorize").first.click()
    dialog = page.locator(".dialog-ux .modal-ux")
    dialog.locator("#oauth_username").fill(EMAIL)
    dialog.locator("#oauth_password").fill(PASSWORD)
    dialog.locator("button.modal-btn.authorize").click()
    expect(dialog.get_by_role("heading", name="Authorized")).to_be_visible()
    dialog.locator("button.btn-done").click()

    operation = page.locator(
        '.opblock-get:has(.opblock-summary-path[data-path="/api/v1/projects"])'
    )
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    response = operation.locator(".live-responses-table tr.response")
    expect(response.locator(".response-col_status")).to_have_text("200")
    body = json.loads(response.locator(".response-col_description pre").first.inner_text())
    operation.screenshot(path=SCREENSHOTS / "hangar-docs.png")

    assert [project["name"] for project in body["items"]] == [PROJECT]
    assert body["next_cursor"] is None
    assert f"{base_url}/api/v1/auth/login" in offline.loaded  # the dialog's own login
    assert f"{base_url}/docs/static/swagger-ui-bundle.js" in offline.loaded
    assert offline.refused == []
    assert offline.errors == []


def test_redoc_renders_offline(base_url: str, offline: OfflinePage) -> None:
    page = offline.page
    page.goto(f"{base_url}/redoc")
    expect(page.locator("h1").first).to_contain_text("Hangar")
    expect(page.get_by_text("The caller's projects, newest first").first).to_be_attached()
    page.screenshot(path=SCREENSHOTS / "hangar-redoc.png")

    assert f"{base_url}/docs/static/redoc.standalone.js" in offline.loaded
    assert offline.refused == []
    assert offline.errors == []
