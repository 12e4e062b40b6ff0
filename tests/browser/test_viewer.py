"""The live session viewer in headless Chromium against a real server (`session-events serve`).

`pytest tests/browser -q --durations=0` shows each test's time; the module takes about 30 s.
"""

from __future__ import annotations

import itertools
import json
import random
import re
import time

import httpx
import pytest
from selenium.webdriver.common.by import By

from session_events.demo import workflow_events
from support.live_server import READ_KEY, LiveServer
from tests.browser.conftest import SCREENSHOTS
from tests.browser.page import Viewer, append, new_session, set_status
from tests.integration.api.test_operations import metric

# The one format of every instant the pages show: date, 24-hour time, the zone.
INSTANT_MS = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC([+-]\d{1,2}(:\d\d)?)?"
XSS = '<img src=x onerror="window.__xss = 1">'


def test_lists_sessions_newest_first_with_status_badges(viewer, api):
    first = new_session(api, session_type="build")
    second = new_session(api, session_type="test_generation", project_path="/repos/petclinic")
    third = new_session(api, session_type="agent_run")
    set_status(api, second, "in_progress")
    set_status(api, third, "failed")
    viewer.open()  # no session selected: the sessions page
    listed = lambda: viewer.driver.execute_script(  # noqa: E731
        "return [...document.querySelectorAll('#session-rows > li')].map(li =>"
        " [li.dataset.id, li.querySelector('.badge').dataset.status])"
    )
    viewer.wait(lambda: len(listed()) >= 3, what="the sessions")
    newest = api.get("/api/v2/sessions", headers={"X-API-Key": READ_KEY}).json()["items"]
    assert listed()[:3] == [[s["id"], s["status"]] for s in newest[:3]]
    assert listed()[:3] == [[third, "failed"], [second, "in_progress"], [first, "pending"]]
    # Choosing one shows it, and the fragment says which (so the URL can be shared).
    viewer.driver.find_element(By.CSS_SELECTOR, f'#session-rows li[data-id="{second}"] a').click()
    viewer.wait(lambda: second in viewer.element("session-info").text, what="the session header")
    assert viewer.driver.current_url.endswith(f"#session={second}")
    assert "in_progress" in viewer.element("session-info").text
    assert viewer.rows()[0][1:3] == ["status_changed", "Session pending -> in_progress"]


def test_shows_a_sessions_events_and_a_new_one_within_a_second(viewer, api):
    session_id = new_session(
        api, session_type="test_generation", project_path="/repos/spring-petclinic"
    )
    set_status(api, session_id, "in_progress")
    demo = list(itertools.islice(workflow_events(random.Random(7)), 17))
    append(api, session_id, *demo[:15])  # seq 2..16, an error among them
    viewer.open(f"#session={session_id}")
    viewer.wait_for_seqs(list(range(16, 0, -1)))
    assert viewer.wait_for_state("stream", "connected") < 5
    rows = {row[0]: row for row in viewer.rows()}
    assert rows[2][1:3] == ["workflow_started", "Test generation started for spring-petclinic"]
    error = next(row for row in rows.values() if row[1] == "workflow_error")
    assert "kind-error" in error[4] and error[3].startswith("step ")
    assert "kind-success" in next(row[4] for row in rows.values() if row[1].endswith("_completed"))
    # Every row: time, seq, type, message, step, and event_data behind a click.
    row = viewer.driver.find_element(By.CSS_SELECTOR, '#timeline li[data-seq="2"]')
    assert re.fullmatch(INSTANT_MS, row.find_element(By.CSS_SELECTOR, "time").text)
    row.find_element(By.CSS_SELECTOR, "summary").click()
    assert json.loads(row.find_element(By.CSS_SELECTOR, "pre").text) == demo[0]["event_data"]

    sent = time.perf_counter()
    append(api, session_id, demo[15])
    viewer.wait_for_seqs(list(range(17, 0, -1)), timeout=5)
    seconds = time.perf_counter() - sent
    assert seconds < 1.0, f"the new event took {seconds:.3f} s to appear"
    assert viewer.rows()[0][1:3] == [demo[15]["event_type"], demo[15]["message"]]
    # The screenshot (docs/viewer-timeline.png by `make screenshots`): the events, one open.
    row.find_element(By.CSS_SELECTOR, "summary").click()
    viewer.driver.find_element(By.CSS_SELECTOR, f'li[data-seq="{error[0]}"] summary').click()
    viewer.driver.execute_script("document.getElementById('run-events').scrollIntoView()")
    SCREENSHOTS.mkdir(exist_ok=True)
    assert viewer.driver.save_screenshot(str(SCREENSHOTS / "viewer-timeline.png"))


def test_the_key_is_typed_once_and_never_put_in_a_url(viewer, api):
    session_id = new_session(api)
    append(api, session_id, {"event_type": "tick"})
    viewer.open(f"#session={session_id}", key="not-a-key")
    viewer.wait(
        lambda: "refused" in viewer.element("key-error").text, what="the refusal of a bad key"
    )
    viewer.open(f"#session={session_id}")  # the good key
    viewer.wait_for_seqs([1])
    viewer.open(f"?session={session_id}", key=None)  # a reload: the tab kept the key
    viewer.wait_for_seqs([1])
    assert not viewer.element("key-form").is_displayed()
    urls = viewer.driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert any("/events" in url for url in urls)
    assert not [url for url in urls if READ_KEY in url]


def test_filters_by_event_type(viewer, api):
    session_id = new_session(api)
    append(
        api,
        session_id,
        *(
            {"event_type": t, "message": f"{t} {i}"}
            for i, t in enumerate(["tick", "workflow_error", "tock", "workflow_error", "tick"])
        ),
    )
    viewer.open(f"#session={session_id}")
    viewer.wait_for_seqs([5, 4, 3, 2, 1])
    options = viewer.driver.find_elements(By.CSS_SELECTOR, "#type-options input")
    assert sorted(o.get_attribute("value") for o in options) == ["tick", "tock", "workflow_error"]
    viewer.driver.find_element(
        By.CSS_SELECTOR, '#type-options input[value="workflow_error"]'
    ).click()
    viewer.wait_for_seqs([4, 2])
    viewer.wait_for_state("stream", "connected")
    append(api, session_id, {"event_type": "tick"}, {"event_type": "workflow_error"})
    viewer.wait_for_seqs([7, 4, 2])
    viewer.driver.find_element(By.CSS_SELECTOR, '#type-options input[value="tock"]').click()
    viewer.wait_for_seqs([7, 4, 3, 2])  # any of the chosen types
    viewer.driver.find_element(By.ID, "clear-filter").click()
    viewer.wait_for_seqs([7, 6, 5, 4, 3, 2, 1])


def test_load_older_pages_below_the_oldest_row(viewer, api):
    session_id = new_session(api)
    append(api, session_id, *({"event_type": "tick", "event_data": {"i": i}} for i in range(120)))
    viewer.open(f"#session={session_id}")
    viewer.wait_for_seqs(list(range(120, 70, -1)))  # the newest page of 50
    viewer.wait_for_state("stream", "connected")
    append(api, session_id, *({"event_type": "tock"} for _ in range(5)))  # arrive on top
    viewer.wait_for_seqs(list(range(125, 70, -1)))
    older = viewer.element("load-older")
    older.click()  # the 50 below the oldest row (until_seq=70): not shifted by the five new ones
    viewer.wait_for_seqs(list(range(125, 20, -1)))
    older.click()
    viewer.wait_for_seqs(list(range(125, 0, -1)))
    assert not older.is_displayed()


def test_renders_untrusted_text_as_text(viewer, api):
    session_id = new_session(api, project_path="<b>bold</b> /repos")
    data = {"html": "<script>window.__xss = 2</script>", "img": XSS}
    append(api, session_id, {"event_type": "workflow_error", "message": XSS, "event_data": data})
    viewer.open(f"#session={session_id}")
    viewer.wait_for_seqs([1])
    row = viewer.driver.find_element(By.CSS_SELECTOR, '#timeline li[data-seq="1"]')
    assert row.find_element(By.CSS_SELECTOR, ".message").text == XSS
    row.find_element(By.CSS_SELECTOR, "summary").click()
    assert json.loads(row.find_element(By.CSS_SELECTOR, "pre").text) == data
    assert "<b>bold</b> /repos" in viewer.element("session-info").text
    injected = viewer.driver.execute_script(
        "return document.querySelectorAll('main img, main script, main b').length"
    )
    assert injected == 0
    assert viewer.driver.execute_script("return window.__xss") is None


def test_falls_back_to_polling_with_etags_when_the_stream_is_unavailable(viewer, api):
    session_id = new_session(api)
    append(api, session_id, {"event_type": "tick"})
    viewer.driver.execute_cdp_cmd("Network.enable", {})
    viewer.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/events/stream*"]})
    viewer.open(f"#session={session_id}")
    viewer.wait_for_seqs([1])
    viewer.wait_for_state("polling", "connected")
    revalidated = _not_modified(api)
    append(api, session_id, {"event_type": "tock"})
    assert viewer.wait_for_seqs([2, 1], timeout=5) < 3  # the next poll, within 2 s
    # Polls with nothing new: the first after the cursor moved is a 200 (another query), the
    # next one's If-None-Match is answered 304.
    viewer.wait(lambda: _not_modified(api) > revalidated, timeout=6, what="a 304")
    assert viewer.state() == ("polling", "connected")


@pytest.mark.parametrize("transport", ["stream", "polling"])
def test_says_finished_once_the_session_reaches_a_terminal_status(viewer, api, transport):
    session_id = new_session(api)
    set_status(api, session_id, "in_progress")
    if transport == "polling":
        viewer.driver.execute_cdp_cmd("Network.enable", {})
        viewer.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/events/stream*"]})
    viewer.open(f"#session={session_id}")
    viewer.wait_for_state(transport, "connected")
    set_status(api, session_id, "paused")  # not terminal: still following
    viewer.wait_for_seqs([2, 1])
    set_status(api, session_id, "cancelled")
    viewer.wait_for_state(transport, "finished")
    assert viewer.seqs() == [3, 2, 1]
    badge = viewer.driver.find_element(By.CSS_SELECTOR, "#session-info .badge")
    assert badge.get_attribute("data-status") == "cancelled"


def _not_modified(api: httpx.Client) -> float:
    body = api.get("/metrics").text
    try:
        return metric(
            body,
            "testboost_api_requests_total",
            method="GET",
            endpoint="/api/v2/sessions/{session_id}/events",
            status="304",
        )
    except AssertionError:  # none yet
        return 0


def test_resumes_without_gaps_after_the_server_restarts(browser, tmp_path):
    database_url = f"sqlite:///{tmp_path}/events.db"
    server = LiveServer(database_url, tmp_path / "first.log").start()
    viewer = Viewer(browser, server.base_url)
    api = httpx.Client(base_url=server.base_url, timeout=30)
    try:
        session_id = new_session(api)
        append(api, session_id, *({"event_type": "tick"} for _ in range(3)))
        viewer.open(f"#session={session_id}")
        viewer.wait_for_seqs([3, 2, 1])
        viewer.wait_for_state("stream", "connected")
        server.stop()
        viewer.wait_for_state("stream", "reconnecting")
        # The same port and database: events appended before the page is back are replayed
        # (Last-Event-ID), the next ones arrive live; none missing, none twice.
        again = LiveServer(database_url, tmp_path / "second.log")
        again.port, again.base_url = server.port, server.base_url
        server = again.start()
        append(api, session_id, *({"event_type": "tock"} for _ in range(4)))
        viewer.wait_for_state("stream", "connected")
        append(api, session_id, {"event_type": "tick"})
        viewer.wait_for_seqs(list(range(8, 0, -1)))
    finally:
        api.close()
        server.stop()


def test_the_demo_url_preselects_the_demo_session(browser, tmp_path):
    server = LiveServer(
        f"sqlite:///{tmp_path}/events.db",
        tmp_path / "demo.log",
        EVENTS_READ_KEYS="",
        EVENTS_WRITE_KEYS="",
    ).start("--demo")
    try:
        output = server.output_once_it_shows("/viewer/#session=")
        key = re.search(r"X-API-Key: (\S+)", output).group(1)
        url = re.search(r"Watch it live.*\n\s+(\S+)\n", output).group(1)
        session_id = re.search(r"Events:\s+\S+/sessions/([0-9a-f-]+)/events", output).group(1)
        assert url == f"{server.base_url}/viewer/#session={session_id}"
        viewer = Viewer(browser, server.base_url)
        viewer.open(url.removeprefix(f"{server.base_url}/viewer/"), key=key)
        viewer.wait(lambda: len(viewer.seqs()) >= 3, what="three demo events")
        assert [row[1] for row in viewer.rows()[-2:]] == ["workflow_started", "status_changed"]
        assert session_id in viewer.element("session-info").text
        assert not viewer.element("sessions-view").is_displayed()  # the session's own page
    finally:
        server.stop()


def test_a_new_event_appears_within_a_second_on_postgresql(browser, postgres_server):
    """The same promise through PostgreSQL's LISTEN/NOTIFY wake-ups (skipped without it,
    failed in CI like every PostgreSQL test)."""
    viewer = Viewer(browser, postgres_server.base_url)
    with httpx.Client(base_url=postgres_server.base_url, timeout=30) as api:
        session_id = new_session(api)
        append(api, session_id, {"event_type": "tick"})
        viewer.open(f"#session={session_id}")
        viewer.wait_for_seqs([1])
        viewer.wait_for_state("stream", "connected")
        sent = time.perf_counter()
        append(api, session_id, {"event_type": "workflow_error", "message": "late"})
        viewer.wait_for_seqs([2, 1], timeout=5)
        assert time.perf_counter() - sent < 1.0
