"""The request paths of the benchmark scenarios, from perf/generate.py's manifest."""

from __future__ import annotations

import httpx

from support.live_server import READ_KEY

API = "/api/v2/sessions"


def events_path(session_id: str, query: str) -> str:
    return f"{API}/{session_id}/events?{query}"


def poll_paths(sessions: list[dict]) -> list[str]:
    """A poll by time: the 10 newest events of each session."""
    # + in an offset must be %2B; the manifest's stamps end in Z, so nothing to escape.
    return [events_path(s["id"], f"since={s['poll_since']}&per_page=50") for s in sessions]


def cursor_poll_paths(sessions: list[dict], behind: int = 10) -> list[str]:
    """A poll by cursor: the events after the one `behind` from the newest of each session."""
    return [
        events_path(s["id"], f"after_seq={s['latest_seq'] - behind}&order=asc&per_page=50")
        for s in sessions
    ]


def unchanged_paths(base_url: str, sessions: list[dict], per_page: int = 100) -> list[str]:
    """The caught-up cursor poll of each session, with the ETag its first GET returned."""
    paths = []
    with httpx.Client(base_url=base_url, headers={"X-API-Key": READ_KEY}, timeout=30) as http:
        for s in sessions:
            query = f"after_seq={s['latest_seq']}&order=asc&per_page={per_page}"
            path = events_path(s["id"], query)
            response = http.get(path)
            response.raise_for_status()
            paths.append(f"{path} {response.headers['etag']}")
    return paths


def seeded_session(http, events: int) -> tuple[str, object]:
    """A new session of `events` events, appended in batches of 100 with `http` (an
    httpx.Client holding a write key); its id and the last append's response."""
    session_id = http.post("/api/v2/sessions", json={"session_type": "perf"}).json()["id"]
    appended = None
    for start in range(0, events, 100):
        count = min(100, events - start)
        batch = [{"event_type": "tick", "message": f"event {start + i}"} for i in range(count)]
        appended = http.post(f"/api/v2/sessions/{session_id}/events", json={"events": batch})
        appended.raise_for_status()
    return session_id, appended
