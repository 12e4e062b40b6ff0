"""The standard data set stored through a running server's API, for perf/compare --load api.

perf/generate.py writes the tables directly (COPY, then VACUUM ANALYZE); this sends sessions of
the same plan (the same seed) with events of the same workload (perf/workload.py) as a client
would: each session created
with POST /api/v2/sessions, its events appended in batches of up to 1,000 without ids, so the
server assigns seqs and timestamps, and the tables, their physical order, their statistics and
their visibility map are what that version's own appends leave (autovacuum left to its defaults).
Sessions are loaded four at a time, so their rows interleave on disk as live sessions' do.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import UTC, datetime

import httpx

from perf.generate import plan_sessions
from perf.workload import EventMaker, SessionPlan

BATCH = 1000
CONCURRENT_SESSIONS = 4
SEED = 20260113  # perf/generate.py's default


def _event(event_type: str, data: dict, message: str | None, step_id) -> dict:
    event = {"event_type": event_type, "event_data": data}
    if message is not None:
        event["message"] = message
    if step_id is not None:
        event["step_id"] = str(step_id)
    return event


async def _load_session(http: httpx.AsyncClient, maker: EventMaker, plan: SessionPlan) -> None:
    body = {"id": str(plan.id), "session_type": plan.session_type, "project_path": plan.project}
    (await http.post("/api/v2/sessions", json=body)).raise_for_status()
    batch: list[dict] = []
    for _seq, _id, step_id, event_type, data, message, _ts in maker.events(plan):
        batch.append(_event(event_type, data, message, step_id))
        if len(batch) == BATCH:
            await _append(http, plan, batch)
            batch = []
    if batch:
        await _append(http, plan, batch)


async def _append(http: httpx.AsyncClient, plan: SessionPlan, batch: list[dict]) -> None:
    response = await http.post(f"/api/v2/sessions/{plan.id}/events", json={"events": batch})
    response.raise_for_status()


async def _load(base_url: str, write_key: str, plans: list[SessionPlan], seed: int) -> None:
    # One maker per session, seeded from the plan, so loading several at once stays reproducible.
    queue: asyncio.Queue[SessionPlan] = asyncio.Queue()
    for plan in plans:
        queue.put_nowait(plan)
    headers = {"X-API-Key": write_key}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120) as http:

        async def worker() -> None:
            while not queue.empty():
                plan = queue.get_nowait()
                await _load_session(http, EventMaker(random.Random(f"{seed}-{plan.id}")), plan)

        await asyncio.gather(*(worker() for _ in range(CONCURRENT_SESSIONS)))


def load(base_url: str, write_key: str, seed: int = SEED) -> dict:
    """Store the standard set through the server at base_url; the manifest perf/compare reads."""
    started = time.perf_counter()
    plans = plan_sessions(random.Random(seed), huge=False, now=datetime.now(UTC))
    asyncio.run(_load(base_url, write_key, plans, seed))

    def entry(plan: SessionPlan) -> dict:
        return {"id": str(plan.id), "status": plan.status, "latest_seq": plan.events}

    return {
        "events": sum(plan.events for plan in plans),
        "sessions_10k": [entry(p) for p in plans if p.events == 10_000],
        "append_sessions": [
            str(p.id) for p in plans if p.events == 100 and p.status == "in_progress"
        ][:20],
        "total_s": round(time.perf_counter() - started, 1),
    }
