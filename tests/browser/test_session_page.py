"""A session's page (#session=<id>) in headless Chromium against a real server: its header,
steps, charts, narrow screens and a session of 100,000 events. The numbers the page shows are
compared with the API's own answers (the timeline's search, links, follow and download are in
test_session_timeline.py)."""

from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from selenium.webdriver.common.by import By

from perf.workload import EventMaker, SessionPlan, new_uuid
from support.live_server import LiveServer
from tests.browser.conftest import SCREENSHOTS
from tests.browser.page import Viewer, append, new_session, set_status
from tests.browser.session_page import (
    BARS_JS,
    MAX_ROWS,
    STEPS_JS,
    demo_session,
    epoch_ms,
    js,
    listing,
    marked,
    page_text,
    present,
    summary,
)
from tests.browser.stored_runs import demo_run, rows_of, status_changed, store


def test_the_steps_of_a_demo_run_show_their_statuses_and_durations(viewer, api):
    session_id = demo_session(api, failed=False)
    expected = summary(api, session_id)["steps"]
    assert len(expected) == 16
    viewer.open(f"#session={session_id}")
    viewer.wait(lambda: len(js(viewer, STEPS_JS)) == 16, what="16 steps")
    shown = js(viewer, STEPS_JS)
    assert [row[0] for row in shown] == [step["step_id"] for step in expected]
    for row, step in zip(shown, expected, strict=True):
        ms = epoch_ms(step["ended_at"]) - epoch_ms(step["started_at"])
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
    assert "7 events" in page_text(viewer, "event-count")


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
    viewer.wait(lambda: marked(viewer) == [first_error["seq"]], what="the error marked")


def test_a_look_alike_status_event_does_not_move_the_header(viewer, api):
    """Any producer may append a `status_changed` event: the session's row says where it is."""
    session_id = new_session(api)
    set_status(api, session_id, "in_progress")
    viewer.open(f"#session={session_id}")
    viewer.wait_for_state("stream", "connected")
    badge = lambda: js(viewer, "return document.querySelector('#session-info .badge')?.textContent")  # noqa: E731
    fake = {"event_type": "status_changed", "event_data": {"new_status": "completed"}}
    append(api, session_id, fake, {"event_type": "tick"})
    viewer.wait_for_seqs([3, 2, 1])
    assert badge() == "in_progress"
    set_status(api, session_id, "paused")  # a real change after it: drawn once it is read
    viewer.wait(lambda: badge() == "paused", what="the real status")
    assert viewer.state() == ("stream", "connected")  # not "finished" by the look-alike


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
        viewer.wait(lambda: present(viewer, "run-error") and len(js(viewer, STEPS_JS)) == 16)
        viewer.wait_for_state("stream", "finished")
        with httpx.Client(base_url=server.base_url, timeout=30) as api:
            expected = summary(api, session_id)
        assert [row[3] for row in js(viewer, STEPS_JS)] == [
            epoch_ms(step["ended_at"]) - epoch_ms(step["started_at"]) for step in expected["steps"]
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
    assert not present(viewer, "run-error")  # not failed: no error line, nor a trace of one
    assert "null" not in page_text(viewer, "session-info")


def test_360_px_has_no_horizontal_overflow(viewer, api):
    session_id = demo_session(api, failed=True)
    # Names as long as producers write them wrap rather than widen the page.
    long_type = "an_event_type_named_at_great_length_by_its_producer"
    append(api, session_id, {"event_type": long_type, "message": "x" * 300})
    metrics = {"width": 360, "height": 800, "deviceScaleFactor": 1, "mobile": False}
    viewer.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    viewer.open(f"#session={session_id}")
    viewer.wait(lambda: present(viewer, "run-error") and js(viewer, BARS_JS), what="the page")
    viewer.driver.find_element(By.CSS_SELECTOR, "#step-list > details > summary").click()
    viewer.wait(lambda: js(viewer, "return document.querySelectorAll('#step-list li').length"))
    width = js(
        viewer,
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]",
    )
    assert width[0] <= width[1], width
    wide = new_session(api, session_type="a_session_type_named_at_great_length_by_its_maker")
    append(api, wide, {"event_type": long_type})
    viewer.open(f"#session={wide}")
    viewer.wait(lambda: js(viewer, BARS_JS), what="the long-named session")
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
        viewer.wait(lambda: "100000 events" in page_text(viewer, "session-info"), what="header")
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
