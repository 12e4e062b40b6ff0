"""The viewer page as the tests see it, and the API calls that set the scene."""

from __future__ import annotations

import time

import httpx
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from support.live_server import READ_KEY
from tests.conftest import WRITE

# One call returns the whole timeline: [seq, event_type, message, step, kind class] per row.
ROWS_JS = """
return [...document.querySelectorAll('#timeline > li')].map(li => [
  Number(li.dataset.seq), li.dataset.type, li.querySelector('.message').textContent,
  li.querySelector('.step').textContent, li.className]);
"""


def new_session(api: httpx.Client, **fields) -> str:
    response = api.post("/api/v2/sessions", json={"session_type": "build", **fields}, headers=WRITE)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def append(api: httpx.Client, session_id: str, *events: dict) -> list[dict]:
    response = api.post(
        f"/api/v2/sessions/{session_id}/events", json={"events": list(events)}, headers=WRITE
    )
    assert response.status_code == 201, response.text
    return response.json()["items"]


def set_status(api: httpx.Client, session_id: str, status: str) -> None:
    response = api.patch(f"/api/v2/sessions/{session_id}", json={"status": status}, headers=WRITE)
    assert response.status_code == 200, response.text


class Viewer:
    def __init__(self, driver: WebDriver, base_url: str):
        self.driver = driver
        self.base_url = base_url

    def open(self, fragment: str = "", key: str | None = READ_KEY) -> Viewer:
        """A fresh load of /viewer/ (a new fragment alone would not reload) in a tab that has no
        key yet, and the key typed once; `key=None` keeps the tab's key (a reload)."""
        if key is not None:
            self.driver.get(f"{self.base_url}/healthz")  # same origin: forget the last key
            self.driver.execute_script("sessionStorage.clear()")
        self.driver.get(f"{self.base_url}/viewer/{fragment}")
        if key is not None:  # a tab without a key: the page shows its form once it has wired it
            WebDriverWait(self.driver, 10).until(lambda _: self.element("key-form").is_displayed())
            self.element("api-key").send_keys(key)
            self.driver.find_element(By.CSS_SELECTOR, "#key-form button").click()
        return self

    def element(self, element_id: str):
        return self.driver.find_element(By.ID, element_id)

    def rows(self) -> list[list]:
        return self.driver.execute_script(ROWS_JS)

    def seqs(self) -> list[int]:
        return [row[0] for row in self.rows()]

    def state(self) -> tuple[str, str]:
        """(transport, connection) as the page shows them."""
        transport, connection = self.driver.execute_script(
            "return [document.getElementById('transport').dataset.transport,"
            " document.getElementById('connection').dataset.state]"
        )
        return transport, connection

    def wait(self, condition, timeout: float = 10, what: str = "") -> float:
        """Polls `condition()` every 20 ms; returns the seconds it took to hold."""
        started = time.perf_counter()
        while not condition():
            if time.perf_counter() - started > timeout:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what or condition}; "
                    f"rows {self.seqs()}, state {self.state()}, console {self.console()}"
                )
            time.sleep(0.02)
        return time.perf_counter() - started

    def wait_for_seqs(self, expected: list[int], timeout: float = 10) -> float:
        return self.wait(lambda: self.seqs() == expected, timeout, f"rows {expected}")

    def wait_for_state(self, transport: str, connection: str, timeout: float = 10) -> float:
        return self.wait(
            lambda: self.state() == (transport, connection), timeout, f"{transport}/{connection}"
        )

    def console(self) -> list[str]:
        return [entry["message"] for entry in self.driver.get_log("browser")]
