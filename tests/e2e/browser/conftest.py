"""The browser tests' fixtures: a real headless Chromium (the system's, from Debian:
`make test` installs it; Playwright never downloads one) driven by Playwright, and a real
`ivrlog serve` process on SQLite with two accounts and calls ingested over HTTP.

Without Chromium the tests skip, which `CI=true` turns into a failure."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from ivrlog.core.accounts import Credentials
from tests.e2e.browser.flows import site_calls
from tests.e2e.serving import Serving, account, serving

CHROMIUM = os.environ.get("IVRLOG_TEST_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
# where the pages' screenshots go when this is set (`make screenshots`: docs/img)
SCREENSHOTS = os.environ.get("IVRLOG_SCREENSHOTS")


@dataclass
class Site:
    server: Serving
    first: Credentials
    second: Credentials

    @property
    def url(self) -> str:
        return self.server.url

    def get(
        self, path: str, params: dict[str, str], creds: Credentials | None = None
    ) -> httpx.Response:
        """An API GET with an account's developer key (the first account's by default)."""
        who = creds or self.first
        with httpx.Client(base_url=self.url, timeout=30) as client:
            return client.get(path, params=params, auth=(who.email, who.developer_key))

    def ingest(self, path: str, body: Any, creds: Credentials | None = None) -> None:
        who = creds or self.first
        response = httpx.post(
            self.url + path,
            json=body,
            headers={"Authorization": f"Bearer {who.ingest_token}"},
            timeout=30,
        )
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp("site")
    db = str(directory / "ivrlog.db")
    first = account(db, "first@example.com")
    second = account(db, "second@example.com")
    with serving(db, directory / "server.log") as server:
        the_site = Site(server, first, second)
        the_site.ingest("/ingest/v1/calls", site_calls())
        yield the_site


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make test installs it: apt-get install chromium)")
    with sync_playwright() as playwright:
        the_browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield the_browser
        the_browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    the_page = context.new_page()
    yield the_page
    context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    """A page at a phone's width."""
    context = browser.new_context(viewport={"width": 390, "height": 844})
    yield context.new_page()
    context.close()


def sign_in(page: Page, site: Site, creds: Credentials | None = None) -> None:
    who = creds or site.first
    page.goto(site.url + "/sign-in")
    page.get_by_label("Email").fill(who.email)
    page.get_by_label("Developer key").fill(who.developer_key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/calls**")


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """The serious and critical accessibility violations axe-core (pinned from npm,
    tests/e2e/browser/vendor) finds on the page as it is."""
    page.add_script_tag(content=AXE.read_text())
    found: list[dict[str, Any]] = page.evaluate("async () => (await axe.run()).violations")
    return [v for v in found if v.get("impact") in ("serious", "critical")]


def screenshot(page: Page, name: str) -> None:
    """The page as docs/web.md shows it, when IVRLOG_SCREENSHOTS names a directory."""
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))
