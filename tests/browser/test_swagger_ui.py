"""Swagger UI's "Try it out" in headless Chromium: Execute lists a session's events as they are.

A parameter's `example` is what "Try it out" fills in, so a filter with one would be sent without
anybody choosing it, and the listing would find nothing (the contract keeps them in descriptions).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as shows
from selenium.webdriver.support.ui import WebDriverWait

from session_events.contract import load_contract
from support.live_server import READ_KEY
from tests.browser.page import append, new_session

LISTING = "//div[contains(@class, 'opblock-get')][.//*[@data-path='/sessions/{session_id}/events']]"


def query_defaults() -> dict[str, list[str]]:
    """The listing's query parameters that have a default, as a query string carries them:
    "Try it out" fills those in, which changes nothing."""
    contract = load_contract()
    parameters = contract["paths"]["/sessions/{session_id}/events"]["get"]["parameters"]
    defaults = {}
    for parameter in parameters:
        if "$ref" in parameter:
            parameter = contract["components"]["parameters"][parameter["$ref"].split("/")[-1]]
        default = parameter.get("schema", {}).get("default")
        if parameter["in"] == "query" and default is not None:
            defaults[parameter["name"]] = [str(default).lower()]
    return defaults


def authorize(browser, wait: WebDriverWait) -> None:
    wait.until(shows.element_to_be_clickable((By.CSS_SELECTOR, "button.authorize"))).click()
    read_key = wait.until(shows.visibility_of_element_located((By.CSS_SELECTOR, ".auth-container")))
    read_key.find_element(By.CSS_SELECTOR, "input").send_keys(READ_KEY)
    read_key.find_element(By.CSS_SELECTOR, "button.authorize").click()
    browser.find_element(By.CSS_SELECTOR, "button.btn-done").click()


def test_try_it_out_sends_only_what_was_typed(browser, viewer_server, api):
    session_id = new_session(api)
    append(api, session_id, {"event_type": "log", "message": "typed by nobody"})
    browser.get(f"{viewer_server.base_url}/api/v2/ui/")
    wait = WebDriverWait(browser, 15)
    authorize(browser, wait)
    listing = wait.until(shows.presence_of_element_located((By.XPATH, LISTING)))
    listing.find_element(By.CSS_SELECTOR, ".opblock-summary").click()
    wait.until(shows.element_to_be_clickable((By.CSS_SELECTOR, "button.try-out__btn"))).click()
    path_field = listing.find_element(By.CSS_SELECTOR, "tr[data-param-name='session_id'] input")
    path_field.clear()
    path_field.send_keys(session_id)
    listing.find_element(By.CSS_SELECTOR, "button.execute").click()
    url = wait.until(lambda _: listing.find_element(By.CSS_SELECTOR, ".request-url pre")).text
    curl = listing.find_element(By.CSS_SELECTOR, ".curl-command").text
    assert parse_qs(urlsplit(url).query) == query_defaults(), url
    assert "If-None-Match" not in curl
    answer = wait.until(
        lambda _: listing.find_element(By.CSS_SELECTOR, ".live-responses-table tbody tr.response")
    )
    assert answer.find_element(By.CSS_SELECTOR, ".response-col_status").text == "200"
    assert "typed by nobody" in answer.find_element(By.CSS_SELECTOR, ".microlight").text
