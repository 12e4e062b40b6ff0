"""A session's page as the browser tests see it: what they read off the page by script, and the
API answers they compare it with."""

from __future__ import annotations

from datetime import datetime

import httpx

from support.live_server import READ_KEY
from tests.browser.page import Viewer, append, new_session, set_status
from tests.browser.stored_runs import demo_run

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


def epoch_ms(timestamp: str) -> int:
    """Milliseconds since the epoch, as JavaScript's Date.parse reads a timestamp."""
    moment = datetime.fromisoformat(timestamp)
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def page_text(viewer: Viewer, element_id: str) -> str:
    """An element's text, read by script: the header's nodes are replaced when it is redrawn."""
    return js(viewer, f"return document.getElementById('{element_id}')?.textContent ?? ''")


def present(viewer: Viewer, element_id: str) -> bool:
    return bool(js(viewer, f"return document.getElementById('{element_id}') !== null"))


def marked(viewer: Viewer) -> list[int]:
    return js(
        viewer,
        "return [...document.querySelectorAll('#timeline li.target[aria-current=true]')]"
        ".map(li => Number(li.dataset.seq))",
    )


def in_view(viewer: Viewer, seq: int) -> bool:
    """The row is within its scrolling box and within the window."""
    return js(
        viewer,
        f"const row = document.querySelector('#timeline li[data-seq=\"{seq}\"]');"
        " const box = document.getElementById('timeline').getBoundingClientRect();"
        " const r = row.getBoundingClientRect();"
        " return r.top >= Math.max(0, box.top) - 1"
        " && r.bottom <= Math.min(innerHeight, box.bottom) + 1;",
    )


def stream_requests(viewer: Viewer) -> int:
    return js(
        viewer,
        "return performance.getEntriesByType('resource')"
        ".filter(e => e.name.includes('/events/stream')).length",
    )
