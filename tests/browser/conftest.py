"""A real `hangar serve` on the memory backends and Debian's Chromium driven by Playwright,
with every request that leaves 127.0.0.1 refused and recorded: the pages must work offline.

Playwright's own browser download is not used (it needs a CDN); scripts/install-browser.sh
installs Debian's `chromium`, and `CHROMIUM_PATH` points at another build.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Playwright, Route, sync_playwright

from benchmarks.servers import running_server, server_env

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
MEMORY_BACKENDS = {"DATABASE_TYPE": "memory", "STORAGE_TYPE": "memory"}


class OfflinePage:
    """A page whose requests to anywhere but 127.0.0.1 are aborted and kept in `refused`;
    the URLs it did load are in `loaded`, its script errors in `errors`."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.refused: list[str] = []
        self.loaded: list[str] = []
        self.errors: list[str] = []
        page.route("**/*", self._route)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _route(self, route: Route) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            self.loaded.append(url)
            route.continue_()
        else:
            self.refused.append(url)
            route.abort("internetdisconnected")


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(tmp_path_factory.mktemp("browser"), server_env(MEMORY_BACKENDS)) as server:
        yield server.base_url


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"no Chromium at {CHROMIUM}: the browser tests need it. Run "
            "`sh scripts/install-browser.sh` as root (apt-get install chromium), "
            "or set CHROMIUM_PATH to a Chromium or Chrome binary.",
            pytrace=False,
        )
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
    yield browser
    browser.close()


@pytest.fixture
def offline(browser: Browser) -> Iterator[OfflinePage]:
    """A fresh context (no stored token) and page, with nothing allowed off this machine."""
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    context.set_default_timeout(10_000)
    try:
        yield OfflinePage(context.new_page())
    finally:
        context.close()
