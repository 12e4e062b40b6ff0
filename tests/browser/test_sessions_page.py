"""The sessions page (#, filters in the fragment) in headless Chromium against a real server:
live rows from the sessions stream, the API's counts, filters and pages, narrow and dark."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from perf.workload import SessionPlan
from session_events.demo import workflow_events
from support.live_server import READ_KEY, LiveServer
from tests.browser.conftest import SCREENSHOTS
from tests.browser.page import Viewer, append, new_session, set_status
from tests.browser.stored_runs import demo_run, rows_of, status_changed, store
from tests.conftest import WRITE

READ = {"X-API-Key": READ_KEY}
# [id, status, event count text, message text] of each row, in order.
ROWS_JS = """
return [...document.querySelectorAll('#session-rows > li')].map(li => [
  li.dataset.id, li.dataset.status, li.querySelector('.events').textContent,
  li.querySelector('.message').textContent]);
"""
TABS_JS = """
return Object.fromEntries([...document.querySelectorAll('#status-tabs .tab')].map(a =>
  [a.dataset.status, Number(a.querySelector('.count').textContent)]));
"""
# The query of the newest GET /sessions the page made.
LAST_LISTING_JS = """
return performance.getEntriesByType('resource').map(e => e.name)
  .filter(url => new URL(url).pathname.endsWith('/api/v2/sessions')).pop() || null;
"""


class SessionsPage(Viewer):
    def rows(self) -> list[list]:
        return self.driver.execute_script(ROWS_JS)

    def ids(self) -> list[str]:
        return [row[0] for row in self.rows()]

    def tabs(self) -> dict[str, int]:
        return self.driver.execute_script(TABS_JS)

    def live(self) -> None:
        self.wait(
            lambda: self.element("sessions-live").get_attribute("data-state") == "live",
            what="the sessions stream",
        )

    def last_listing(self) -> list[tuple[str, str]]:
        url = self.driver.execute_script(LAST_LISTING_JS)
        return parse_qsl(urlsplit(url).query) if url else []

    def wait_for_ids(self, expected: list[str], timeout: float = 10) -> float:
        return self.wait(lambda: self.ids() == expected, timeout, f"rows {expected}")


@pytest.fixture
def page(browser, viewer_server):
    yield SessionsPage(browser, viewer_server.base_url)
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})
    browser.set_window_size(1280, 860)


def listed(api: httpx.Client, params) -> dict:
    response = api.get("/api/v2/sessions", params=params, headers=READ)
    assert response.status_code == 200, response.text
    return response.json()


def ids_of(body: dict) -> list[str]:
    return [session["id"] for session in body["items"]]


def unique_type() -> str:
    """A session type of this test alone (types are lowercase letters and underscores)."""
    return "t_" + uuid.uuid4().hex[:12].translate(str.maketrans("0123456789", "ghijklmnop"))


def test_without_the_stream_the_page_is_read_again_at_each_reconnect(page, api):
    """A proxy that will not stream: the page says it is not live and still shows new sessions,
    read again each time it tries the stream."""
    kind = unique_type()
    page.driver.execute_cdp_cmd("Network.enable", {})
    page.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/sessions/stream*"]})
    try:
        page.open(f"#type={kind}")
        page.wait(
            lambda: page.element("sessions-live").get_attribute("data-state") == "reconnecting",
            what="the stream given up on for now",
        )
        session_id = new_session(api, session_type=kind)
        page.wait_for_ids([session_id], timeout=40)  # the retries back off to 30 s at most
    finally:
        page.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})


def test_a_new_session_appears_live_and_changes_in_place(page, api):
    kind = unique_type()
    page.open(f"#type={kind}")
    page.live()
    page.wait(lambda: "No sessions match" in page.element("sessions-empty").text, what="empty")
    # The first shows once the page has settled: a read the stream's snapshot asked for is done.
    first = new_session(api, session_type=kind)
    page.wait_for_ids([first])
    page.driver.execute_script("window.__notReloaded = true")
    sent = time.perf_counter()
    session_id = new_session(api, session_type=kind)
    page.wait_for_ids([session_id, first])
    assert time.perf_counter() - sent < 2, "a new session took 2 s or more to appear"
    # Progress and a status change redraw the row where it is: the same node, no reload.
    page.driver.execute_script("document.querySelector('#session-rows > li').__same = true")
    append(api, session_id, {"event_type": "tick", "message": "halfway there"})
    page.wait(lambda: page.rows()[0][2:] == ["1 event", "halfway there"], what="the progress")
    set_status(api, session_id, "in_progress")
    page.wait(lambda: page.rows()[0][1] == "in_progress", what="the new status")
    assert page.driver.execute_script(
        "return window.__notReloaded && document.querySelector('#session-rows > li').__same"
    )
    assert page.rows()[0][2] == "2 events"  # the status change is an event too


def test_the_tabs_count_what_the_api_counts_and_filter_by_status(page, api):
    for status in ["in_progress", "failed", "failed", "completed", None]:
        session_id = new_session(api, session_type="counted")
        if status:
            set_status(api, session_id, status)
    page.open()
    page.live()
    expected = listed(api, {})["status_counts"]
    page.wait(lambda: page.tabs() == {"": sum(expected.values()), **expected}, what="the counts")
    page.driver.find_element(By.CSS_SELECTOR, '#status-tabs a[data-status="failed"]').click()
    failed = listed(api, {"status": "failed", "per_page": 25})
    page.wait_for_ids(ids_of(failed))
    assert page.driver.current_url.endswith("#status=failed")
    assert page.tabs() == {"": sum(failed["status_counts"].values()), **failed["status_counts"]}
    # A session failing while the tab is open joins it, and the counts follow.
    late = new_session(api, session_type="counted")
    set_status(api, late, "failed")
    page.wait(lambda: page.ids()[:1] == [late], what="the newly failed session")
    counts = listed(api, {})["status_counts"]
    page.wait(lambda: page.tabs() == {"": sum(counts.values()), **counts}, what="new counts")


def test_each_filter_and_the_search_give_the_apis_items(page, api):
    kind, word = unique_type(), uuid.uuid4().hex[:8]
    project = f"/repos/{word}"
    made = [
        new_session(api, session_type=kind, project_path=f"{project}/api"),
        new_session(api, session_type=kind, project_path=f"{project}-web"),
        new_session(api, session_type="other", project_path=f"{project}/cli"),
    ]
    append(api, made[1], {"event_type": "tick", "message": f"Compiling {word.upper()} tests"})
    page.open()
    page.live()
    checks = [
        ("filter-type", kind, ("session_type", kind), [made[1], made[0]]),
        ("filter-project", f"{project}/", ("project_path", f"{project}/"), [made[2], made[0]]),
        ("filter-q", f"compiling {word}", ("q", f"compiling {word}"), [made[1]]),
    ]
    for box, text, param, expected in checks:
        page.element("clear-filters").click()
        page.wait(lambda: page.last_listing() == [("per_page", "25"), ("page", "1")])
        page.element(box).send_keys(text)
        page.wait_for_ids(expected)
        # The page asked the server; the server's answer to the same query is what it shows.
        query = page.last_listing()
        assert param in query
        assert page.ids() == ids_of(listed(api, query))
    Select(page.element("filter-created")).select_by_value("1h")
    page.wait(lambda: any(name == "created_after" for name, _ in page.last_listing()))
    page.wait_for_ids([made[1]])  # with the search still set
    assert page.ids() == ids_of(listed(api, page.last_listing()))
    assert "created=1h" in page.driver.current_url and "q=compiling" in page.driver.current_url
    # The view is in the fragment: a reload shows the same.
    page.open(f"#{urlsplit(page.driver.current_url).fragment}")
    page.wait_for_ids([made[1]])
    assert page.element("filter-q").get_attribute("value") == f"compiling {word}"
    # Nothing matching: a way out of the filters.
    page.element("filter-q").send_keys(" and more")
    page.wait(lambda: page.element("sessions-empty").is_displayed(), what="the empty state")
    assert "No sessions match" in page.element("sessions-empty").text
    page.element("empty-clear").click()
    page.wait(lambda: page.driver.current_url.endswith("#"), what="the cleared fragment")
    page.wait_for_ids(ids_of(listed(api, {"per_page": 25})))


def test_pages_past_the_first(page, api):
    kind = unique_type()
    made = [new_session(api, session_type=kind) for _ in range(30)]
    page.open(f"#type={kind}")
    page.wait_for_ids(made[::-1][:25])
    assert page.element("page-range").text == "1–25 of 30 sessions"
    assert page.element("page-info").text == "page 1 of 2"
    assert not page.element("page-prev").is_enabled()
    page.element("page-next").click()
    page.wait_for_ids(ids_of(listed(api, {"session_type": kind, "per_page": 25, "page": 2})))
    assert page.ids() == made[::-1][25:]
    assert page.element("page-range").text == "26–30 of 30 sessions"
    assert page.driver.current_url.endswith(f"#type={kind}&page=2")
    assert not page.element("page-next").is_enabled()
    page.element("page-prev").click()
    page.wait_for_ids(made[::-1][:25])


def test_a_deleted_session_disappears(page, api):
    kind = unique_type()
    kept, doomed = new_session(api, session_type=kind), new_session(api, session_type=kind)
    page.open(f"#type={kind}")
    page.wait_for_ids([doomed, kept])
    page.live()
    page.driver.execute_script("window.__notReloaded = true")
    assert api.delete(f"/api/v2/sessions/{doomed}", headers=WRITE).status_code == 204
    page.wait_for_ids([kept])
    page.wait(lambda: page.element("page-range").text == "1–1 of 1 session", what="the count")
    assert page.driver.execute_script("return window.__notReloaded")


def test_fits_a_360_px_screen(page, api):
    long = "a-very-long-project-name-that-goes-on/" * 4
    session_id = new_session(api, session_type="narrow_" + "x" * 60, project_path=f"/{long}")
    append(api, session_id, {"event_type": "tick", "message": "word " * 80})
    page.driver.set_window_size(360, 800)
    page.open()
    page.wait(lambda: session_id in page.ids(), what="the long session")
    width, client = page.driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width <= client, f"{width} px of content in {client} px"
    card = page.driver.find_element(By.CSS_SELECTOR, f'li[data-id="{session_id}"]')
    assert card.size["width"] <= client


def test_a_dark_system_theme_gives_a_dark_page(page, api):
    new_session(api)
    page.driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    page.open()
    page.wait(lambda: page.ids(), what="a row")
    for selector in ["html", "#sessions-view", "#filter-q"]:
        background, text = page.driver.execute_script(
            "const style = getComputedStyle(document.querySelector(arguments[0]));"
            "return [style.backgroundColor, style.color]",
            selector,
        )
        assert max(rgb(background)) < 64, f"{selector} has a {background} background"
        assert min(rgb(text)) > 160, f"{selector} has {text} text"


def rgb(colour: str) -> tuple[int, ...]:
    """rgb(17, 21, 28) -> (17, 21, 28); a transparent colour is no colour at all."""
    assert colour.startswith("rgb("), colour
    return tuple(int(n) for n in colour[4:-1].split(","))


def test_tab_reaches_the_search_box_and_a_row(page, api):
    new_session(api)
    page.open()
    page.wait(lambda: page.ids(), what="a row")
    page.driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
    reached, outline = [], None
    for _ in range(40):
        ActionChains(page.driver).send_keys(Keys.TAB).perform()
        focused = page.driver.switch_to.active_element
        reached.append(focused.get_attribute("id") or focused.get_attribute("class"))
        if reached[-1] == "session-row":
            outline = focused.value_of_css_property("outline-style")
            break
    assert "filter-q" in reached, reached
    assert any(name.split()[0] == "tab" for name in reached if name), reached
    assert outline not in (None, "none"), f"no row link reached, or no visible focus: {reached}"


def test_a_refused_key_is_asked_for_and_other_errors_say_what_failed(page, api):
    page.open(key="not-a-key")
    page.wait(lambda: "refused" in page.element("key-error").text, what="the refusal")
    assert page.element("sessions-note").text == "Enter an API key to list sessions."
    page.open("#status=finished")  # no such status: the server says why
    page.wait(
        lambda: page.element("sessions-note").text.startswith("Could not list sessions: "),
        what="the error",
    )
    assert "finished" in page.element("sessions-note").text
    assert page.ids() == []


def test_catches_up_after_the_server_restarts(browser, tmp_path):
    database_url = f"sqlite:///{tmp_path}/events.db"
    server = LiveServer(database_url, tmp_path / "first.log").start()
    page = SessionsPage(browser, server.base_url)
    api = httpx.Client(base_url=server.base_url, timeout=30)
    try:
        before = new_session(api)
        page.open()
        page.wait_for_ids([before])
        page.live()
        page.driver.execute_script("window.__notReloaded = true")
        server.stop()
        page.wait(
            lambda: page.element("sessions-live").get_attribute("data-state") == "reconnecting",
            what="the lost stream",
        )
        again = LiveServer(database_url, tmp_path / "second.log")
        again.port, again.base_url = server.port, server.base_url
        server = again.start()
        during = new_session(api)  # made before the page is back: resumed, not missed
        page.live()
        after = new_session(api)
        page.wait_for_ids([after, during, before])
        assert page.driver.execute_script("return window.__notReloaded")
    finally:
        api.close()
        server.stop()


def test_screenshot_of_a_busy_sessions_page(browser, tmp_path):
    """docs/sessions-page.png (`make screenshots`): runs of the last hours in every status, with
    their messages, and one arriving on the open page."""
    url = f"sqlite:///{tmp_path}/events.db"
    rng = random.Random(25)
    now = datetime.now(UTC)
    runs = []
    # (type, project, status, events (None: a whole demo run), minutes ago, seconds apart)
    for kind, project, status, count, minutes, apart in [
        ("test_generation", "/repos/spring-petclinic", "completed", None, 190, 4),
        ("test_generation", "/repos/spring-petclinic-api", "failed", None, 125, 3),
        ("build", "/repos/petclinic-web", "completed", 12, 95, 9),
        ("agent_run", "/repos/owners-service", "cancelled", 8, 70, 6),
        ("test_generation", "/repos/vets-service", "paused", 21, 41, 5),
        ("test_generation", "/repos/spring-petclinic", "in_progress", 40, 12, 4),
        ("build", "/repos/visits-service", "in_progress", 5, 3, 7),
    ]:
        work = demo_run(status == "failed") if count is None else None
        work = work or list(itertools.islice(workflow_events(rng), count))
        ending = [status_changed("in_progress", status)] if status != "in_progress" else []
        events = [status_changed("pending", "in_progress"), *work, *ending]
        rows = rows_of(events, now - timedelta(minutes=minutes), apart)
        plan = SessionPlan(uuid.uuid4(), len(rows), status, rows[-1][-1], project, kind)
        runs.append((plan, rows))
    asyncio.run(store(url, runs))
    server = LiveServer(url, tmp_path / "server.log").start()
    try:
        page = SessionsPage(browser, server.base_url)
        page.open()
        page.live()
        with httpx.Client(base_url=server.base_url, timeout=30) as api:
            new_session(api, session_type="test_generation", project_path="/repos/customers")
            expected = listed(api, {"per_page": 25})
        page.wait_for_ids(ids_of(expected))
        page.wait(lambda: page.tabs()["failed"] == 1, what="the counts")
        assert [row[1:] for row in page.rows()] == [
            [s["status"], f"{s['event_count']} events", s["last_message"] or "no message yet"]
            for s in expected["items"]
        ]
        page.driver.execute_script("document.activeElement.blur()")
        page.wait(
            lambda: not browser.find_elements(By.CSS_SELECTOR, ".session-row.changed"),
            what="the highlights to fade",
        )
        SCREENSHOTS.mkdir(exist_ok=True)
        assert browser.save_screenshot(str(SCREENSHOTS / "sessions-page.png"))
    finally:
        server.stop()
