"""Long-polls filtered by `step_id` and `q` through a real server process, on both backends:
held past the events they do not match, answered with the one they do, the Link header
repeating the filters. As in test_long_poll.py, waits are long and appends early."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.conftest import WRITE
from tests.live.test_long_poll import WAIT, api, new_session, timed_get  # noqa: F401 (fixture)

STEP_A = "1a2b3c4d-5e6f-4a0b-8c9d-0e1f2a3b4c5d"
STEP_B = "2b3c4d5e-6f70-4b1c-9d0e-1f2a3b4c5d6e"


async def append_soon(http, session_id: str, *events: dict) -> None:
    await asyncio.sleep(0.5)
    response = await http.post(
        f"/api/v2/sessions/{session_id}/events",
        json={"events": list(events)},
        headers=WRITE,
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("query", "other", "matching"),
    [
        (
            {"step_id": STEP_A},
            {"event_type": "tick", "step_id": STEP_B, "message": "building"},
            {"event_type": "tick", "step_id": STEP_A, "message": "building"},
        ),
        (
            {"q": "TIMEOUT"},
            {"event_type": "tick", "message": "all 50% done_ok"},
            {"event_type": "tick", "message": "Compile timeout after 30 s"},
        ),
        (
            {"q": "50%_"},
            {"event_type": "tick", "message": "50% done"},
            {"event_type": "tick", "message": "at 50%_ now"},
        ),
        (
            {"step_id": STEP_A, "q": "fail"},
            {"event_type": "tick", "step_id": STEP_A, "message": "passed"},
            {"event_type": "tick", "step_id": STEP_A, "message": "FAILED: 3 tests"},
        ),
    ],
)
async def test_a_held_poll_waits_past_what_its_filters_do_not_keep(api, query, other, matching):  # noqa: F811
    session_id = await new_session(api)
    url = f"/api/v2/sessions/{session_id}/events?{urlencode({**query, 'wait': WAIT})}"

    async def appends():
        await append_soon(api, session_id, other)
        await append_soon(api, session_id, other, matching)

    (response, elapsed), _ = await asyncio.gather(timed_get(api, url), appends())
    assert response.status_code == 200, response.text
    assert [e["seq"] for e in response.json()["items"]] == [3]
    assert response.json()["pagination"]["total"] == 1
    assert elapsed < WAIT / 2
    for link in response.headers["Link"].split(", "):
        linked = parse_qs(urlsplit(link[1 : link.index(">")]).query)
        assert {name: linked[name] for name in query} == {k: [v] for k, v in query.items()}
        assert "wait" not in linked


async def test_a_held_poll_times_out_empty_when_nothing_matches(api):  # noqa: F811
    session_id = await new_session(api)
    url = f"/api/v2/sessions/{session_id}/events?step_id={STEP_A}&q=x&wait=2"
    (response, elapsed), _ = await asyncio.gather(
        timed_get(api, url),
        append_soon(api, session_id, {"event_type": "tick", "step_id": STEP_A, "message": "y"}),
    )
    assert response.status_code == 200
    assert response.json()["items"] == []
    assert response.json()["latest_seq"] == 1
    assert elapsed >= 2
