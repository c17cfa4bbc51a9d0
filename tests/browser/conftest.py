"""Playwright driving Debian's Chromium (never a browser that Playwright downloads).

Without /usr/bin/chromium (or CHROMIUM_PATH) these tests are skipped with a notice.
Screenshots of each page go to test-artifacts/ and any JavaScript console error fails
the test.
"""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]

@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Browser tests skipped: no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Django's async-safety check trips on Playwright's sync API (it runs an event loop in
    # the test thread); the ORM calls in these tests are the ordinary synchronous kind.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, request):
    from tests.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []

    def on_console(message):
        # A page answered with 400/403 on purpose logs "Failed to load resource" too;
        # failed scripts, styles and fetches are caught below, by their responses.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(message.text)

    def on_response(response):
        if response.status >= 400 and response.request.resource_type != "document":
            errors.append(f"{response.status} {response.request.resource_type} {response.url}")

    page.on("console", on_console)
    page.on("response", on_response)
    # A request aborted because the page moved on (a reload, a click) is not a failure.
    page.on(
        "requestfailed",
        lambda request: None if "ERR_ABORTED" in (request.failure or "") else errors.append(f"failed {request.url}: {request.failure}"),
    )
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.console_errors = errors
    yield page
    found = list(errors)
    context.close()
    assert found == [], f"JavaScript errors in the browser: {found}"


def screenshot(page, name):
    from tests.conftest import ARTIFACTS

    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
