"""Headless Chromium (Debian's chromium and chromium-driver) driving the viewer of a real server.

Without Chromium the tests are skipped with the reason, except in CI (EVENTS_REQUIRE_POSTGRES=1
or CI set), where that is a failure: .ci/run installs both packages.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest

from support.live_server import LiveServer
from tests.conftest import reset_database

CHROMIUM = Path(os.environ.get("EVENTS_CHROMIUM", "/usr/bin/chromium"))
CHROMEDRIVER = Path(os.environ.get("EVENTS_CHROMEDRIVER", "/usr/bin/chromedriver"))
ARTIFACTS = Path(__file__).resolve().parents[2] / ".artifacts"
# Where the screenshot tests write: `make screenshots` points it at docs/, the README's images.
SCREENSHOTS = Path(os.environ.get("EVENTS_SCREENSHOTS_DIR") or ARTIFACTS)
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--window-size=1280,860",
    "--lang=en-GB",
]


def _unavailable(reason: str):
    if os.environ.get("EVENTS_REQUIRE_POSTGRES") == "1" or os.environ.get("CI"):
        pytest.fail(f"{reason} (required in CI; .ci/run installs chromium and chromium-driver)")
    pytest.skip(f"{reason} -- apt-get install chromium chromium-driver")


def start_chromium(*flags: str):
    """A headless Chromium driven by chromedriver, with `flags` beside the usual ones."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install -e '.[test]')")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            _unavailable(f"{path} is missing")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, *flags):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole run (starting one takes a couple of seconds)."""
    driver = start_chromium()
    yield driver
    driver.quit()


@pytest.fixture
def fresh_browser(tmp_path):
    """Another Chromium, with a profile of its own made for the test: someone else's browser,
    opening a link it was sent, with nothing stored by the shared one."""
    driver = start_chromium(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    yield driver
    driver.quit()


@pytest.fixture(scope="session")
def viewer_server(tmp_path_factory):
    """A server on a real SQLite file, shared by the tests that need nothing special."""
    directory = tmp_path_factory.mktemp("viewer")
    server = LiveServer(f"sqlite:///{directory}/events.db", directory / "server.log").start()
    yield server
    server.stop()


@pytest.fixture
def postgres_server(postgres, tmp_path):
    """A server on the run's PostgreSQL database (skipped or failed as the other PG tests are)."""
    url = postgres.require()
    asyncio.run(reset_database(url))
    server = LiveServer(url, tmp_path / "server.log").start()
    yield server
    server.stop()


@pytest.fixture
def api(viewer_server):
    with httpx.Client(base_url=viewer_server.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def viewer(browser, viewer_server):
    """The viewer of the shared server, left as found: nothing blocked, the window's own size."""
    from tests.browser.page import Viewer

    yield Viewer(browser, viewer_server.base_url)
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
