"""A session's page (#session=<id>) in headless Chromium against a real server: its header,
steps, charts, search, event links, follow/pause, download, narrow screens and a session of
100,000 events. The numbers the page shows are compared with the API's own answers."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from selenium.webdriver.common.by import By

from perf.workload import EventMaker, SessionPlan, new_uuid
from support.live_server import READ_KEY, LiveServer
from tests.browser.conftest import SCREENSHOTS
from tests.browser.page import Viewer, append, new_session, set_status
from tests.browser.stored_runs import demo_run, rows_of, status_changed, store

READ = {"X-API-Key": READ_KEY}
MAX_ROWS = 500  # timeline.js MAX_ROWS: the most rows the timeline holds

STEPS_JS = """
return [...document.querySelectorAll('#step-list > details')].map(d => [
  d.dataset.stepId, d.querySelector('.step-name').textContent,
  d.querySelector('.badge').dataset.status,
  Number(d.querySelector('.step-duration').dataset.ms),
  Number(d.querySelector('.step-events').dataset.count)]);
"""
BARS_JS = """
return [...document.querySelectorAll('#chart-types g.bar')].map(g =>
  [g.dataset.type, Number(g.querySelector('text.count').textContent),
   g.querySelector('title').textContent]);
"""


@pytest.fixture
def viewer(browser, viewer_server):
    yield Viewer(browser, viewer_server.base_url)
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def demo_session(api: httpx.Client, failed: bool) -> str:
    session_id = new_session(api, session_type="test_generation", project_path="/repos/petclinic")
    set_status(api, session_id, "in_progress")
    append(api, session_id, *demo_run(failed))
    set_status(api, session_id, "failed" if failed else "completed")
    return session_id


def summary(api: httpx.Client, session_id: str) -> dict:
    response = api.get(f"/api/v2/sessions/{session_id}/summary", headers=READ)
    assert response.status_code == 200, response.text
    return response.json()


def listing(api: httpx.Client, session_id: str, **params) -> dict:
    response = api.get(f"/api/v2/sessions/{session_id}/events", params=params, headers=READ)
    assert response.status_code == 200, response.text
    return response.json()


def js(viewer: Viewer, script: str):
    return viewer.driver.execute_script(script)


def test_the_steps_of_a_demo_run_show_their_statuses_and_durations(viewer, api):
    session_id = demo_session(api, failed=False)
    expected = summary(api, session_id)["steps"]
    assert len(expected) == 16
    viewer.open(f"#session={session_id}")
    viewer.wait(lambda: len(js(viewer, STEPS_JS)) == 16, what="16 steps")
    shown = js(viewer, STEPS_JS)
    assert [row[0] for row in shown] == [step["step_id"] for step in expected]
    for row, step in zip(shown, expected, strict=True):
        ms = _ms(step["ended_at"]) - _ms(step["started_at"])
        assert row[1:] == [step["name"], "completed", ms, step["events"]]
    assert row[1].startswith("generate_tests_")
    # Opening a step lists its events (listing by step_id), and only its own.
    group = viewer.driver.find_element(By.CSS_SELECTOR, "#step-list > details")
    group.find_element(By.CSS_SELECTOR, "summary").click()
    own = listing(api, session_id, step_id=expected[0]["step_id"], order="asc")["items"]
    listed = lambda: [  # noqa: E731
        int(li.get_attribute("data-seq")) for li in group.find_elements(By.CSS_SELECTOR, "li")
    ]
    viewer.wait(lambda: listed() == [event["seq"] for event in own], what="the step's events")
    # Events without a step stay in the timeline.
    viewer.wait(lambda: viewer.seqs()[:1] == [len(demo_run(False)) + 2], what="the timeline")
    assert "" in [row[3] for row in viewer.rows()]


def test_a_steps_events_are_listed_a_page_at_a_time(viewer, api):
    session_id = new_session(api)
    step = "1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d"
    mine = append(api, session_id, *({"event_type": "tick", "step_id": step} for _ in range(60)))
    append(api, session_id, {"event_type": "tock"})  # in no step
    viewer.open(f"#session={session_id}")
    viewer.wait(lambda: len(js(viewer, STEPS_JS)) == 1, what="the step")
    group = viewer.driver.find_element(By.CSS_SELECTOR, "#step-list > details")
    group.find_element(By.CSS_SELECTOR, "summary").click()
    listed = lambda: [  # noqa: E731
        int(li.get_attribute("data-seq")) for li in group.find_elements(By.CSS_SELECTOR, "li")
    ]
    viewer.wait(lambda: len(listed()) == 50, what="a page of the step's events")
    group.find_element(By.CSS_SELECTOR, ".step-more").click()
    viewer.wait(lambda: listed() == [event["seq"] for event in mine], what="all of them")
    assert not group.find_element(By.CSS_SELECTOR, ".step-more").is_displayed()


def test_the_charts_are_drawn_with_the_apis_counts(viewer, api):
    session_id = demo_session(api, failed=True)
    viewer.open(f"#session={session_id}")
    viewer.wait(lambda: js(viewer, BARS_JS), what="the bars")
    bars = js(viewer, BARS_JS)
    for event_type, count, title in bars:
        total = listing(api, session_id, event_type=event_type, per_page=1)["pagination"]["total"]
        assert count == total and title.startswith(f"{event_type}: {total} event")
    assert sum(count for _, count, _ in bars) == listing(api, session_id)["pagination"]["total"]
    # Events per minute: the buckets add up to the session's events.
    activity = summary(api, session_id)["activity"]
    buckets = js(
        viewer,
        "return [...document.querySelectorAll('#chart-activity rect.bucket')]"
        ".map(r => Number(r.dataset.count))",
    )
    assert buckets == activity["counts"] and sum(buckets) == len(demo_run(True)) + 2
    assert js(
        viewer, "return document.querySelector('#chart-activity polyline').getAttribute('points')"
    )
    # The waterfall: one bar per step, coloured by its status, each with its title.
    steps = js(
        viewer,
        "return [...document.querySelectorAll('#chart-waterfall g.step')]"
        ".map(g => [g.dataset.stepId, g.dataset.status, g.querySelector('title').textContent])",
    )
    assert [s[:2] for s in steps] == [
        [step["step_id"], step["status"]] for step in summary(api, session_id)["steps"]
    ]
    for chart in ("chart-types", "chart-activity", "chart-waterfall"):
        labelled = js(
            viewer,
            f"const svg = document.getElementById('{chart}');"
            " return [svg.getAttribute('role'), svg.querySelector('title').textContent,"
            " svg.querySelector('desc').textContent]",
        )
        assert labelled[0] == "img" and all(labelled[1:]), chart


def test_the_header_steps_and_charts_follow_live_events(viewer, api):
    session_id = new_session(api)
    set_status(api, session_id, "in_progress")
    viewer.open(f"#session={session_id}")
    viewer.wait_for_state("stream", "connected")
    viewer.wait(lambda: js(viewer, BARS_JS), what="the first bars")
    step = "1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d"
    for i in range(3):  # three appends: the summary is read again, not once per event
        append(
            api,
            session_id,
            {"event_type": "tock", "message": f"tock {i}"},
            {
                "event_type": "step_status_changed",
                "step_id": step,
                "event_data": {"step": "build", "new_status": "in_progress" if i < 2 else "failed"},
            },
        )
    expected = [
        [row["event_type"], row["events"]] for row in summary(api, session_id)["event_types"]
    ]
    viewer.wait(
        lambda: [[t, n] for t, n, _ in js(viewer, BARS_JS)] == expected, what="the new counts"
    )
    viewer.wait(
        lambda: js(viewer, STEPS_JS)[0][1:3] == ["build", "failed"], what="the step's status"
    )
    assert "7 events" in _text(viewer, "event-count")


def test_a_failed_runs_header_shows_its_first_error(viewer, api):
    session_id = demo_session(api, failed=True)
    first_error = summary(api, session_id)["first_error"]
    assert first_error["event_type"] == "workflow_error"
    viewer.open(f"#session={session_id}")
    viewer.wait_for_state("stream", "finished")
    # Read in one go: the header is drawn again when the session or its summary is re-read.
    shown = lambda: js(  # noqa: E731
        viewer,
        "const error = document.getElementById('run-error');"
        " const duration = document.getElementById('run-duration');"
        " return error && [error.textContent, error.querySelector('a').href,"
        " duration.textContent, duration.dataset.running,"
        " document.querySelector('#session-info .badge').textContent]",
    )
    viewer.wait(shown, what="the first error")
    text, href, duration, running, badge = shown()
    assert first_error["message"] in text
    assert href.endswith(f"#session={session_id}&seq={first_error['seq']}")
    assert duration.startswith("took ") and running == "false"
    assert badge == "failed"
    # The link marks the error in the timeline.
    js(viewer, "document.querySelector('#run-error a').click()")
    viewer.wait(lambda: _marked(viewer) == [first_error["seq"]], what="the error marked")


def test_the_screenshot_of_a_failed_demo_run(browser, tmp_path):
    """.artifacts/failed-run.png (the README's copy is docs/failed-run.png): a failed demo run
    whose events came two seconds apart, so its steps have durations and its minutes counts."""
    url = f"sqlite:///{tmp_path}/events.db"
    events = [
        status_changed("pending", "in_progress"),
        *demo_run(True),
        status_changed("in_progress", "failed"),
    ]
    rows = rows_of(events, datetime.now(UTC) - timedelta(minutes=10))
    plan = SessionPlan(uuid.uuid4(), len(rows), "failed", rows[-1][-1], "/repos/spring-petclinic")
    (session_id,) = asyncio.run(store(url, [(plan, rows)]))
    server = LiveServer(url, tmp_path / "server.log").start()
    try:
        viewer = Viewer(browser, server.base_url)
        viewer.open(f"#session={session_id}")
        viewer.wait(lambda: _present(viewer, "run-error") and len(js(viewer, STEPS_JS)) == 16)
        viewer.wait_for_state("stream", "finished")
        with httpx.Client(base_url=server.base_url, timeout=30) as api:
            expected = summary(api, session_id)
        assert [row[3] for row in js(viewer, STEPS_JS)] == [
            _ms(step["ended_at"]) - _ms(step["started_at"]) for step in expected["steps"]
        ]
        metrics = {"width": 1280, "height": 860, "deviceScaleFactor": 1, "mobile": False}
        viewer.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        viewer.driver.execute_script("window.scrollTo(0, 0)")
        SCREENSHOTS.mkdir(exist_ok=True)
        assert viewer.driver.save_screenshot(str(SCREENSHOTS / "failed-run.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        server.stop()


def test_a_deep_link_without_a_key_names_its_session(viewer, api):
    session_id = new_session(api)
    viewer.driver.get(f"{viewer.base_url}/healthz")
    viewer.driver.execute_script("sessionStorage.clear()")
    viewer.driver.get(f"{viewer.base_url}/viewer/#session={session_id}&seq=1")
    viewer.wait(lambda: viewer.element("key-form").is_displayed(), what="the key form")
    note = viewer.element("timeline-note").text
    assert note == f"Enter an API key to show session {session_id}."
    assert viewer.element("session-view").is_displayed()


def test_a_running_sessions_duration_ticks(viewer, api):
    session_id = new_session(api)
    set_status(api, session_id, "in_progress")
    viewer.open(f"#session={session_id}")
    # Read by script: the header is drawn again when the session or its summary is re-read.
    duration = lambda: js(  # noqa: E731
        viewer,
        "const node = document.getElementById('run-duration');"
        " return node && [Number(node.dataset.ms), node.textContent]",
    )
    viewer.wait(duration, what="the duration")
    first = duration()[0]
    viewer.wait(lambda: duration()[0] >= first + 1000, what="the duration to tick")
    assert duration()[1].startswith("running for ")
    assert not _present(viewer, "run-error")  # not failed: no error line, nor a trace of one
    assert "null" not in _text(viewer, "session-info")


def test_search_finds_events_among_many(viewer, api):
    session_id = new_session(api)
    needles = set()
    for batch in range(3):
        events = []
        for i in range(400):
            n = batch * 400 + i
            hit = n % 20 == 7
            events.append({"event_type": "tick", "message": f"{'Needle' if hit else 'hay'} {n}"})
        for item in append(api, session_id, *events):
            if item["message"].startswith("Needle"):
                needles.add(item["seq"])
    assert len(needles) == 60
    viewer.open(f"#session={session_id}")
    viewer.wait_for_state("stream", "connected")
    viewer.element("search-input").send_keys("neeDLE")
    viewer.driver.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]").click()
    found = lambda: js(  # noqa: E731
        viewer,
        "return [...document.querySelectorAll('#search-list > li')]"
        ".map(li => Number(li.dataset.seq))",
    )
    viewer.wait(lambda: len(found()) == 50, what="a page of results")
    assert found() == sorted(needles, reverse=True)[:50]
    assert "60 events" in viewer.element("search-note").text
    assert not viewer.element("timeline").is_displayed()
    viewer.element("search-more").click()
    viewer.wait(lambda: found() == sorted(needles, reverse=True), what="the second page")
    assert not viewer.element("search-more").is_displayed()
    viewer.element("search-clear").click()
    assert viewer.element("timeline").is_displayed() and not found()
    # A result's link shows the timeline at that event.
    viewer.element("search-input").send_keys("needle")
    viewer.driver.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]").click()
    viewer.wait(lambda: len(found()) == 50, what="the results again")
    oldest = min(needles)
    viewer.element("search-more").click()
    viewer.wait(lambda: oldest in found(), what="the oldest result")
    viewer.driver.find_element(
        By.CSS_SELECTOR, f'#search-list li[data-seq="{oldest}"] a.seq'
    ).click()
    viewer.wait(lambda: _marked(viewer) == [oldest] and _in_view(viewer, oldest), what="it")
    assert not found() and viewer.element("timeline").is_displayed()


def test_an_event_link_scrolls_to_its_event_and_marks_it(viewer, api):
    session_id = new_session(api)
    append(api, session_id, *({"event_type": "tick", "message": f"tick {i}"} for i in range(300)))
    viewer.open(f"#session={session_id}&seq=40")  # far below the newest page
    viewer.wait(lambda: _marked(viewer) == [40], what="event 40 marked")
    assert _in_view(viewer, 40)
    assert 40 in viewer.seqs() and 300 not in viewer.seqs()  # the rows around it
    viewer.wait_for_state("stream", "connected")
    streams = _stream_requests(viewer)
    # Another event of the same session: scrolled to, the watch carries on.
    viewer.driver.execute_script(f"location.hash = '#session={session_id}&seq=25'")
    viewer.wait(lambda: _marked(viewer) == [25] and _in_view(viewer, 25), what="event 25")
    viewer.driver.find_element(By.CSS_SELECTOR, '#timeline li[data-seq="30"] a.seq').click()
    viewer.wait(lambda: _marked(viewer) == [30], what="event 30")
    assert viewer.driver.current_url.endswith(f"#session={session_id}&seq=30")
    assert _stream_requests(viewer) == streams
    assert viewer.state() == ("stream", "connected")
    # The newer events wait behind the button; it brings the newest page back.
    button = viewer.element("new-events")
    assert button.is_displayed()
    button.click()
    viewer.wait(lambda: viewer.seqs()[:1] == [300], what="the newest page")


def test_follow_and_pause(viewer, api):
    session_id = new_session(api)
    append(api, session_id, {"event_type": "tick"})
    viewer.open(f"#session={session_id}")
    viewer.wait_for_seqs([1])
    viewer.wait_for_state("stream", "connected")
    follow = viewer.element("follow")
    assert follow.get_attribute("aria-pressed") == "true"
    append(api, session_id, {"event_type": "tock"})
    viewer.wait_for_seqs([2, 1])
    follow.click()
    assert follow.get_attribute("aria-pressed") == "false"
    append(api, session_id, {"event_type": "tick"}, {"event_type": "tock"})
    button = viewer.element("new-events")
    viewer.wait(
        lambda: button.is_displayed() and button.text.startswith("2 new events"), what="2 new"
    )
    assert viewer.seqs() == [2, 1]
    # The count in the header moves on while paused.
    assert "4 events" in _text(viewer, "event-count")
    button.click()
    viewer.wait_for_seqs([4, 3, 2, 1])
    assert not button.is_displayed() and follow.get_attribute("aria-pressed") == "true"
    # Following keeps the newest in view: the timeline's box is scrolled to its top.
    append(api, session_id, *({"event_type": "tick"} for _ in range(60)))
    viewer.wait(lambda: viewer.seqs()[:1] == [64], what="event 64")
    assert js(viewer, "return document.getElementById('timeline').scrollTop") == 0


def test_the_download_is_the_sessions_ndjson(viewer, api, tmp_path):
    session_id = demo_session(api, failed=False)
    viewer.driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    viewer.open(f"#session={session_id}")
    viewer.wait_for_state("stream", "finished")
    viewer.element("download").click()
    file = tmp_path / f"session-{session_id}.ndjson"
    viewer.wait(file.exists, what="the download")
    lines = file.read_text().splitlines()
    expected = []
    url = f"/api/v2/sessions/{session_id}/events?order=asc&per_page=100"
    while url:
        response = api.get(url, headers=READ)
        expected += response.json()["items"]
        url = response.links.get("next", {}).get("url")
    assert [json.loads(line) for line in lines] == expected
    assert len(lines) == len(demo_run(False)) + 2


def test_360_px_has_no_horizontal_overflow(viewer, api):
    session_id = demo_session(api, failed=True)
    metrics = {"width": 360, "height": 800, "deviceScaleFactor": 1, "mobile": False}
    viewer.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    viewer.open(f"#session={session_id}")
    viewer.wait(lambda: _present(viewer, "run-error") and js(viewer, BARS_JS), what="the page")
    viewer.driver.find_element(By.CSS_SELECTOR, "#step-list > details > summary").click()
    viewer.wait(lambda: js(viewer, "return document.querySelectorAll('#step-list li').length"))
    width = js(
        viewer,
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]",
    )
    assert width[0] <= width[1], width
    # Keyboard: the controls are reached with Tab.
    reached = set()
    body = viewer.driver.find_element(By.TAG_NAME, "body")
    for _ in range(40):
        body.send_keys("\ue004")  # Tab
        reached.add(
            js(viewer, "return document.activeElement.id || document.activeElement.tagName")
        )
    assert {"search-input", "follow", "download"} <= reached


def test_a_session_of_100000_events_shows_a_bounded_page(browser, tmp_path):
    url = f"sqlite:///{tmp_path}/events.db"
    session_id = asyncio.run(_bulk_session(url, 100_000))
    server = LiveServer(url, tmp_path / "server.log").start()
    try:
        viewer = Viewer(browser, server.base_url)
        viewer.open(f"#session={session_id}")
        viewer.wait(lambda: "100000 events" in _text(viewer, "session-info"), what="header")
        viewer.wait(lambda: js(viewer, BARS_JS), what="the charts", timeout=30)
        with httpx.Client(base_url=server.base_url, timeout=60) as api:
            expected = summary(api, session_id)
        bars = js(viewer, BARS_JS)
        assert [[t, n] for t, n, _ in bars] == [
            [r["event_type"], r["events"]] for r in expected["event_types"]
        ]
        assert sum(n for _, n, _ in bars) == 100_000
        viewer.wait(
            lambda: len(js(viewer, STEPS_JS)) == len(expected["steps"]) > 0, what="the steps"
        )
        viewer.wait(lambda: len(viewer.seqs()) == 50, what="the newest page")
        assert viewer.seqs()[0] == 100_000
        oldest = lambda: min(viewer.seqs())  # noqa: E731
        for _ in range(12):  # 600 older rows asked for: the page keeps at most MAX_ROWS
            before = oldest()
            viewer.element("load-older").click()
            viewer.wait(lambda before=before: oldest() < before, what="older rows")
        assert oldest() == 100_000 - 13 * 50 + 1
        assert len(viewer.seqs()) == MAX_ROWS
        # The type filter offers every type of the session, from the summary.
        offered = js(
            viewer, "return [...document.querySelectorAll('#type-options input')].map(i => i.value)"
        )
        assert offered == sorted(row["event_type"] for row in expected["event_types"])
        assert js(viewer, "return document.querySelectorAll('main li').length") == MAX_ROWS
        # The newest are behind the button, which brings the newest page back.
        viewer.element("new-events").click()
        viewer.wait(lambda: viewer.seqs()[:1] == [100_000], what="the newest page again")
    finally:
        server.stop()


async def _bulk_session(url: str, events: int) -> str:
    """One in_progress session of `events` events, made as perf/generate.py makes them."""
    rng = random.Random(25)
    plan = SessionPlan(
        new_uuid(rng), events, "in_progress", datetime.now(UTC) - timedelta(seconds=5), "/repos/big"
    )
    (session_id,) = await store(url, [(plan, list(EventMaker(rng).events(plan)))])
    return session_id


def _ms(timestamp: str) -> int:
    """Milliseconds since the epoch, as JavaScript's Date.parse reads a timestamp."""
    moment = datetime.fromisoformat(timestamp)
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def _text(viewer: Viewer, element_id: str) -> str:
    """An element's text, read by script: the header's nodes are replaced when it is redrawn."""
    return js(viewer, f"return document.getElementById('{element_id}')?.textContent ?? ''")


def _present(viewer: Viewer, element_id: str) -> bool:
    return bool(js(viewer, f"return document.getElementById('{element_id}') !== null"))


def _marked(viewer: Viewer) -> list[int]:
    return js(
        viewer,
        "return [...document.querySelectorAll('#timeline li.target[aria-current=true]')]"
        ".map(li => Number(li.dataset.seq))",
    )


def _in_view(viewer: Viewer, seq: int) -> bool:
    """The row is within its scrolling box and within the window."""
    return js(
        viewer,
        f"const row = document.querySelector('#timeline li[data-seq=\"{seq}\"]');"
        " const box = document.getElementById('timeline').getBoundingClientRect();"
        " const r = row.getBoundingClientRect();"
        " return r.top >= Math.max(0, box.top) - 1"
        " && r.bottom <= Math.min(innerHeight, box.bottom) + 1;",
    )


def _stream_requests(viewer: Viewer) -> int:
    return js(
        viewer,
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/events/stream')).length",
    )
