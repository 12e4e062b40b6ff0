"""Share links (#session=<id>&token=<token>) in headless Chromium against a real server: one
opens its session read-only in a browser that holds no key, and nothing else; a link the server
stops accepting says so and stops following; "Share" makes one; and the server's access log
never holds a token (which rides in the fragment, never in a request's URL)."""

from __future__ import annotations

import base64
import json
import time
from datetime import datetime

import httpx
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from support.live_server import READ_KEY, LiveServer
from tests.browser.page import Viewer, append, new_session, set_status
from tests.browser.session_page import BARS_JS, js, page_text, present
from tests.conftest import READ, WRITE

# The page's reconnect pauses are 1 s (an ended stream) and 3 s (polling's first try of the
# stream again): a page still following would have asked the server again within this.
SETTLE_S = 4
# The API requests the page started after `arguments[0]` (a performance.now() of the page).
API_REQUESTS_SINCE_JS = (
    "return performance.getEntriesByType('resource')"
    ".filter(e => e.startTime > arguments[0] && e.name.includes('/api/v2/')).length"
)
STORED_JS = "return JSON.stringify([{...localStorage}, {...sessionStorage}])"


@pytest.fixture(scope="module")
def share_server(tmp_path_factory):
    """A server of its own whose access log is kept (info): the log the tokens must not reach."""
    directory = tmp_path_factory.mktemp("share")
    server = LiveServer(
        f"sqlite:///{directory}/events.db",
        directory / "server.log",
        EVENTS_LOG_LEVEL="info",
        EVENTS_TOKEN_SECRETS="viewer-share-tests-" + "5e" * 24,
    ).start()
    yield server
    server.stop()


@pytest.fixture
def api(share_server):
    with httpx.Client(base_url=share_server.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def tab(browser, share_server):
    """The run's Chromium on this server, with no key in the tab (a share link needs none)."""
    browser.get(f"{share_server.base_url}/healthz")
    browser.execute_script("sessionStorage.clear()")
    yield Viewer(browser, share_server.base_url)
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    browser.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    browser.get(f"{share_server.base_url}/healthz")  # the page, and the token it held, are gone


def mint(api: httpx.Client, session_id: str, ttl: int = 3600, headers=READ) -> dict:
    body = {"scope": "read", "ttl_seconds": ttl}
    response = api.post(f"/api/v2/sessions/{session_id}/tokens", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def open_link(viewer: Viewer, link: str) -> Viewer:
    viewer.driver.get(link)
    return viewer


def link_to(viewer: Viewer, session_id: str, token: str) -> str:
    return f"{viewer.base_url}/viewer/#session={session_id}&token={token}"


def notice(viewer: Viewer) -> str:
    return page_text(viewer, "link-notice") if viewer.element("link-notice").is_displayed() else ""


def assert_not_logged(server: LiveServer, *tokens: str) -> None:
    log = server.output()
    for token in tokens:
        for part in (token, *token.split(".")[1:]):  # the payload and signature alone too
            assert part not in log


def test_a_share_link_opens_its_session_alone_in_a_fresh_browser(api, share_server, fresh_browser):
    session_id = new_session(api, session_type="shared_run", project_path="/repos/shared")
    append(api, session_id, {"event_type": "tick", "message": "one"}, {"event_type": "tock"})
    other = new_session(api, session_type="not_shared_run")
    minted = mint(api, session_id)
    token = minted["token"]
    viewer = Viewer(fresh_browser, share_server.base_url)
    fresh_browser.get(f"{share_server.base_url}/healthz")
    assert js(viewer, STORED_JS) == "[{},{}]"  # a profile with no key, nor anything else
    open_link(viewer, link_to(viewer, session_id, token))
    viewer.wait_for_seqs([2, 1])
    viewer.wait(lambda: "shared_run" in page_text(viewer, "session-info"), what="the header")
    assert "/repos/shared" in page_text(viewer, "session-info")
    assert not viewer.element("key-form").is_displayed()
    assert not viewer.element("back").is_displayed()  # no way to the sessions offered
    expiry = viewer.element("link-expiry")
    assert expiry.is_displayed() and "read-only · expires 20" in expiry.text
    assert int(expiry.get_attribute("data-exp")) == claims(token)["exp"]
    assert token not in js(viewer, STORED_JS)  # the token lives in the fragment, nowhere else
    # An event's link keeps the token (opened in a new tab, or reloaded, it opens the page).
    href = js(viewer, "return document.querySelector('#timeline li[data-seq=\"1\"] a.seq').href")
    assert href.endswith(f"#session={session_id}&seq=1&token={token}")
    js(viewer, "document.querySelector('#timeline li[data-seq=\"1\"] a.seq').click()")
    viewer.wait(lambda: "seq=1" in fresh_browser.current_url, what="the event's fragment")
    assert f"token={token}" in fresh_browser.current_url
    fresh_browser.refresh()
    viewer.wait(
        lambda: (
            js(viewer, "return document.querySelector('#timeline li.target')?.dataset.seq") == "1"
        ),
        what="the linked event, after a reload",
    )
    # Another session's fragment: the server's 403, not that session and not a key prompt.
    refusal = api.get(f"/api/v2/sessions/{other}", headers=bearer(token))
    assert refusal.status_code == 403
    detail = refusal.json()["detail"]
    js(viewer, f"location.hash = '#session={other}'")  # typed without the token: it is kept
    viewer.wait(lambda: page_text(viewer, "timeline-note") == detail, what="the 403's detail")
    assert f"token={token}" in fresh_browser.current_url
    assert "not_shared_run" not in js(viewer, "return document.body.textContent")
    assert viewer.rows() == [] and not viewer.element("key-form").is_displayed()
    # "#", the sessions page, leads back to the link's own session.
    js(viewer, "location.hash = '#'")
    viewer.wait_for_seqs([2, 1])
    assert f"#session={session_id}" in fresh_browser.current_url
    assert not viewer.element("sessions-view").is_displayed()
    assert_not_logged(share_server, token)


def test_a_revoked_link_says_so_and_stops_following(api, share_server, tab):
    session_id = new_session(api)
    set_status(api, session_id, "in_progress")
    append(api, session_id, {"event_type": "tick"})
    token = mint(api, session_id)["token"]
    open_link(tab, link_to(tab, session_id, token))
    tab.wait_for_state("stream", "connected")
    append(api, session_id, {"event_type": "tock"})
    tab.wait_for_seqs([3, 2, 1])
    # The summary read that event brought is done: only the stream is open when the token goes.
    tab.wait(lambda: ["tock", 1] in [bar[:2] for bar in js(tab, BARS_JS)], what="the summary")
    response = api.delete(f"/api/v2/sessions/{session_id}/tokens", headers=WRITE)
    assert response.status_code == 204, response.text
    tab.wait(lambda: notice(tab), what="the notice")
    assert "revoked" in page_text(tab, "link-notice-detail").lower()
    assert "ask whoever shared it for a new one" in notice(tab).lower()
    assert tab.state()[1] == "stopped"
    assert not tab.element("key-form").is_displayed()
    assert not tab.element("share").is_displayed()
    noticed = js(tab, "return performance.now()")
    append(api, session_id, {"event_type": "after_revocation"})
    time.sleep(SETTLE_S)
    assert tab.seqs() == [3, 2, 1]  # not shown: the page stopped following ...
    assert tab.driver.execute_script(API_REQUESTS_SINCE_JS, noticed) == 0  # ... nor asks again
    assert notice(tab)
    assert_not_logged(share_server, token)


def test_a_revoked_link_seen_by_polling_says_so_too(api, share_server, tab):
    """Where the stream cannot be had, the poll's 401 stops the page as the stream's end does."""
    session_id = new_session(api)
    set_status(api, session_id, "in_progress")
    token = mint(api, session_id)["token"]
    tab.driver.execute_cdp_cmd("Network.enable", {})
    tab.driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/events/stream*"]})
    open_link(tab, link_to(tab, session_id, token))
    tab.wait_for_state("polling", "connected")
    response = api.delete(f"/api/v2/sessions/{session_id}/tokens", headers=WRITE)
    assert response.status_code == 204, response.text
    tab.wait(lambda: notice(tab), what="the notice")
    assert "revoked" in page_text(tab, "link-notice-detail").lower()
    assert tab.state()[1] == "stopped"
    noticed = js(tab, "return performance.now()")
    append(api, session_id, {"event_type": "after_revocation"})
    time.sleep(SETTLE_S)
    assert tab.seqs() == [1]
    assert tab.driver.execute_script(API_REQUESTS_SINCE_JS, noticed) == 0


def test_an_expiring_link_ends_its_stream_with_a_notice(api, share_server, tab):
    session_id = new_session(api)
    set_status(api, session_id, "in_progress")
    minted = mint(api, session_id, ttl=5)
    open_link(tab, link_to(tab, session_id, minted["token"]))
    tab.wait_for_state("stream", "connected")
    tab.wait(lambda: notice(tab), timeout=20, what="the notice once the token expired")
    assert "expired" in page_text(tab, "link-notice-detail").lower()
    assert tab.state()[1] == "stopped"
    assert_not_logged(share_server, minted["token"])


def test_a_producer_may_not_name_an_event_auth_expired(api, share_server, tab):
    """The name is the stream's own last message: appending an event of that type is a 400, and
    the page watching carries on as before."""
    session_id = new_session(api)
    set_status(api, session_id, "in_progress")
    token = mint(api, session_id)["token"]
    open_link(tab, link_to(tab, session_id, token))
    tab.wait_for_state("stream", "connected")
    refused = api.post(
        f"/api/v2/sessions/{session_id}/events",
        json={"events": [{"event_type": "auth_expired"}]},
        headers=WRITE,
    )
    assert refused.status_code == 400
    assert refused.json()["detail"].startswith('events[0].event_type may not be "auth_expired"')
    append(api, session_id, {"event_type": "after", "message": "a producer's own"})
    tab.wait_for_seqs([2, 1])
    assert tab.state() == ("stream", "connected") and not notice(tab)


def shared_link(viewer: Viewer, lifetime: str, clipboard: str) -> str:
    """Opens Share with the keyboard and picks `lifetime`; the browser's clipboard is replaced by
    one that records what is written to it ("accept") or refuses it ("refuse")."""
    js(
        viewer,
        "window.copied = null; navigator.clipboard.writeText = (text) => "
        + (
            "{ window.copied = text; return Promise.resolve(); }"
            if clipboard == "accept"
            else "Promise.reject(new DOMException('refused', 'NotAllowedError'))"
        ),
    )
    viewer.wait(lambda: viewer.element("share").is_displayed(), what="the Share button")
    summary = viewer.driver.find_element(By.CSS_SELECTOR, "#share summary")
    summary.send_keys(Keys.ENTER)
    viewer.wait(lambda: viewer.element("share").get_attribute("open") is not None, what="the menu")
    buttons = [b.text for b in viewer.driver.find_elements(By.CSS_SELECTOR, "#share button")]
    assert buttons == ["1 hour", "1 day", "7 days"]
    chain = ActionChains(viewer.driver)
    for _ in range(buttons.index(lifetime) + 1):
        chain.send_keys(Keys.TAB)
    chain.send_keys(Keys.ENTER).perform()
    viewer.wait(lambda: "until" in page_text(viewer, "share-note"), what="the link")
    if clipboard == "accept":
        assert not viewer.element("share-link").is_displayed()
        return js(viewer, "return window.copied")
    field = viewer.element("share-link")
    assert field.is_displayed() and field.get_attribute("readonly") is not None
    selected = js(
        viewer,
        "const f = document.getElementById('share-link');"
        " return document.activeElement === f && f.selectionEnd - f.selectionStart",
    )
    assert selected == len(field.get_attribute("value"))  # selected, to be copied by hand
    return field.get_attribute("value")


@pytest.mark.parametrize(("lifetime", "seconds"), [("1 hour", 3600), ("1 day", 86400)])
def test_share_makes_a_link_that_opens_the_session_elsewhere(
    api, share_server, tab, fresh_browser, lifetime, seconds
):
    session_id = new_session(api, session_type="shareable_run")
    append(api, session_id, {"event_type": "tick"})
    tab.open(f"#session={session_id}", key=READ_KEY)
    tab.wait_for_seqs([1])
    clipboard = "accept" if seconds == 3600 else "refuse"
    asked = time.time()
    link = shared_link(tab, lifetime, clipboard)
    assert link.startswith(f"{share_server.base_url}/viewer/#session={session_id}&token=")
    token = link.split("&token=", 1)[1]
    said = claims(token)
    assert said["sid"] == session_id and said["scope"] == "read"
    assert asked + seconds - 5 <= said["exp"] <= time.time() + seconds + 5
    expires_at = tab.element("share-note").get_attribute("data-expires-at")
    assert abs(datetime.fromisoformat(expires_at).timestamp() - said["exp"]) < 1
    if clipboard == "accept":
        assert "copied" in page_text(tab, "share-note")
    # Opened by someone else: the session, read-only.
    other = Viewer(fresh_browser, share_server.base_url)
    open_link(other, link)
    other.wait_for_seqs([1])
    other.wait(lambda: "shareable_run" in page_text(other, "session-info"), what="the header")
    assert not other.element("key-form").is_displayed()
    assert_not_logged(share_server, token)


def test_a_link_shared_from_a_link_ends_with_it(api, share_server, tab):
    """A token may mint a read token for its own session, no longer lived than itself."""
    session_id = new_session(api)
    append(api, session_id, {"event_type": "tick"})
    parent = mint(api, session_id, ttl=3600)
    open_link(tab, link_to(tab, session_id, parent["token"]))
    tab.wait_for_seqs([1])
    link = shared_link(tab, "7 days", "accept")
    child = link.split("&token=", 1)[1]
    assert child != parent["token"]
    assert claims(child)["exp"] <= claims(parent["token"])["exp"]
    assert api.get(f"/api/v2/sessions/{session_id}", headers=bearer(child)).status_code == 200
    assert_not_logged(share_server, parent["token"], child)


def test_share_fits_360_px(api, tab):
    session_id = new_session(api, session_type="a_session_type_named_at_great_length_by_its_maker")
    metrics = {"width": 360, "height": 800, "deviceScaleFactor": 1, "mobile": False}
    tab.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    tab.open(f"#session={session_id}", key=READ_KEY)
    shared_link(tab, "7 days", "refuse")  # the menu and the link's field both shown
    tab.driver.find_element(By.CSS_SELECTOR, "#share summary").click()  # the menu open again
    width = js(
        tab, "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width[0] <= width[1], width
    assert present(tab, "share-link")


def test_the_access_log_never_holds_a_token(api, share_server, fresh_browser):
    """Every request of a share link's page, logged: the session's id is there, its token not;
    nor is it in any URL the page asked for."""
    session_id = new_session(api)
    append(api, session_id, {"event_type": "tick"}, {"event_type": "tock"})
    other = new_session(api)
    token = mint(api, session_id)["token"]
    viewer = open_link(
        Viewer(fresh_browser, share_server.base_url),
        f"{share_server.base_url}/viewer/#session={session_id}&seq=1&token={token}",
    )
    viewer.wait_for_seqs([2, 1])
    js(viewer, f"location.hash = '#session={other}'")  # a 403, logged too
    viewer.wait(lambda: page_text(viewer, "timeline-note"), what="the 403")
    api.delete(f"/api/v2/sessions/{session_id}/tokens", headers=WRITE)
    js(viewer, f"location.hash = '#session={session_id}'")  # a 401, logged too
    viewer.wait(lambda: notice(viewer), what="the notice")

    def statuses() -> set[int]:
        lines = [json.loads(line) for line in share_server.output().splitlines() if line[:1] == "{"]
        ours = (session_id, other)
        return {line.get("status") for line in lines if line.get("session_id") in ours}

    viewer.wait(lambda: {200, 401, 403} <= statuses(), 30, "the page's requests in the log")
    assert_not_logged(share_server, token)
    # The log holds no URL, so the URLs the page asked for are read from the page itself.
    asked = js(viewer, "return performance.getEntriesByType('resource').map(e => e.name)")
    assert any("/api/v2/sessions/" in url for url in asked), asked
    signature = token.split(".")[2]
    assert [url for url in asked if signature in url or token.split(".")[1] in url] == []
