"""Any page number past the end, however large, is an empty page with the listing's pagination,
for the events listing and GET /sessions, through a real server."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import READ, WRITE

# The fuzzer's number, and one of 40 digits.
HUGE = [5616120746315072, 10**39 + 7]


@pytest.mark.parametrize("page", HUGE)
def test_a_page_past_the_end_is_empty_with_its_pagination(live_server, page):
    server = live_server()
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        created = http.post("/api/v2/sessions", json={"session_type": "build"}, headers=WRITE)
        session_id = created.json()["id"]
        batch = {"events": [{"event_type": "tick"}, {"event_type": "tock"}] * 3}
        assert http.post(f"/api/v2/sessions/{session_id}/events", json=batch, headers=WRITE)
        for path, total in (
            (f"/api/v2/sessions/{session_id}/events", 6),
            (f"/api/v2/sessions/{session_id}/events?event_type=tick", 3),
            (f"/api/v2/sessions/{session_id}/events?order=asc&event_type=tick&event_type=tock", 6),
            ("/api/v2/sessions", 1),
        ):
            separator = "&" if "?" in path else "?"
            response = http.get(f"{path}{separator}page={page}&per_page=80", headers=READ)
            assert response.status_code == 200, (path, response.text)
            body = response.json()
            assert body["items"] == []
            assert body["pagination"] == {
                "page": page,
                "per_page": 80,
                "total": total,
                "total_pages": 1,
                "has_next": False,
                "has_prev": True,
            }, path
        uncounted = http.get(
            f"/api/v2/sessions/{session_id}/events?event_type=tick&include_total=false"
            f"&page={page}&per_page=80",
            headers=READ,
        )
        assert uncounted.status_code == 200, uncounted.text
        assert uncounted.json()["items"] == []
        assert uncounted.json()["pagination"]["has_next"] is False
