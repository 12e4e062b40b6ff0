"""A session's timeline in headless Chromium against a real server: search over the whole
session, links to one event, follow and pause, the NDJSON download."""

from __future__ import annotations

import json

from selenium.webdriver.common.by import By

from tests.browser.page import append, new_session
from tests.browser.session_page import (
    READ,
    demo_session,
    in_view,
    js,
    marked,
    page_text,
    stream_requests,
)
from tests.browser.stored_runs import demo_run


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
    viewer.wait(lambda: marked(viewer) == [oldest] and in_view(viewer, oldest), what="it")
    assert not found() and viewer.element("timeline").is_displayed()


def test_an_event_link_scrolls_to_its_event_and_marks_it(viewer, api):
    session_id = new_session(api)
    append(api, session_id, *({"event_type": "tick", "message": f"tick {i}"} for i in range(300)))
    viewer.open(f"#session={session_id}&seq=40")  # far below the newest page
    viewer.wait(lambda: marked(viewer) == [40], what="event 40 marked")
    assert in_view(viewer, 40)
    assert 40 in viewer.seqs() and 300 not in viewer.seqs()  # the rows around it
    viewer.wait_for_state("stream", "connected")
    streams = stream_requests(viewer)
    # Another event of the same session: scrolled to, the watch carries on.
    viewer.driver.execute_script(f"location.hash = '#session={session_id}&seq=25'")
    viewer.wait(lambda: marked(viewer) == [25] and in_view(viewer, 25), what="event 25")
    viewer.driver.find_element(By.CSS_SELECTOR, '#timeline li[data-seq="30"] a.seq').click()
    viewer.wait(lambda: marked(viewer) == [30], what="event 30")
    assert viewer.driver.current_url.endswith(f"#session={session_id}&seq=30")
    assert stream_requests(viewer) == streams
    assert viewer.state() == ("stream", "connected")
    # The newer events wait behind the button; it brings the newest page back.
    button = viewer.element("new-events")
    assert button.is_displayed()
    button.click()
    viewer.wait(lambda: viewer.seqs()[:1] == [300], what="the newest page")


def test_a_link_to_an_event_the_session_lacks_says_so(viewer, api):
    session_id = new_session(api)
    append(api, session_id, {"event_type": "tick"}, {"event_type": "tock"})
    viewer.open(f"#session={session_id}&seq=999")
    viewer.wait(
        lambda: "no event #999" in page_text(viewer, "timeline-note"), what="the missing event"
    )
    assert viewer.seqs() == [2, 1]


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
    assert "4 events" in page_text(viewer, "event-count")
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
