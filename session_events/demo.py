"""Simulated test-generation workflows that append realistic events through the public API.

`session-events serve --demo` runs them beside the server, one after another, so that a newcomer
sees a run arrive as a real one would: its session goes pending -> in_progress, takes about a
minute, and completes (or now and then fails); then the next run starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import uuid
from collections.abc import Callable, Iterator

import httpx
import structlog
from session_events_client import AsyncClient, Refused

from session_events.middleware import DEMO_REQUEST_PREFIX

log = structlog.get_logger("session_events.demo")

CLASSES = [
    "OwnerController",
    "PetController",
    "VisitController",
    "VetController",
    "PetValidator",
    "OwnerRepository",
    "ClinicService",
    "PetTypeFormatter",
]


ROUNDS = 2  # of one step per class: about 100 events
REQUIRED_COVERAGE = 80  # percent; a run under it fails


def workflow_events(rng: random.Random) -> Iterator[dict]:
    """A test-generation run: one step per class, twice over, with the odd compile error; its
    last event says whether it completed (workflow_completed) or failed (workflow_failed)."""
    yield {
        "event_type": "workflow_started",
        "event_data": {"workflow": "test_generation", "project": "spring-petclinic"},
        "message": "Test generation started for spring-petclinic",
    }
    for round_no in range(1, ROUNDS + 1):
        for name in CLASSES:
            step_id = str(uuid.uuid4())
            step = f"generate_tests_{name}"
            yield {
                "event_type": "step_created",
                "step_id": step_id,
                "event_data": {"step": step, "class": name, "round": round_no},
                "message": f"Step {step} created",
            }
            yield _status(step_id, step, "pending", "in_progress")
            yield {
                "event_type": "llm_call_completed",
                "step_id": step_id,
                "event_data": {
                    "model": "gpt-4o",
                    "prompt_tokens": rng.randint(800, 4000),
                    "completion_tokens": rng.randint(200, 1500),
                    "duration_ms": rng.randint(900, 9000),
                },
                "message": f"Generated a test draft for {name}",
            }
            if rng.random() < 0.2:
                yield {
                    "event_type": "workflow_error",
                    "step_id": step_id,
                    "event_data": {
                        "error": "CompilationError",
                        "details": f"{name}Test.java:42: cannot find symbol",
                        "retryable": True,
                    },
                    "message": f"The test for {name} does not compile; retrying",
                }
            yield {
                "event_type": "artifact_created",
                "step_id": step_id,
                "event_data": {
                    "path": f"src/test/java/org/springframework/samples/petclinic/{name}Test.java",
                    "size": rng.randint(1500, 9000),
                    "tests": rng.randint(3, 14),
                },
                "message": f"Wrote {name}Test.java",
            }
            yield _status(step_id, step, "in_progress", "completed")
        yield {
            "event_type": "round_completed",
            "event_data": {"round": round_no, "classes": len(CLASSES)},
            "message": f"Round {round_no} completed",
        }
    # A failed run is one under the required coverage and a completed one at or above it, so
    # the demo never contradicts itself.
    failed = rng.random() < 0.25
    coverage = (
        rng.randint(55, REQUIRED_COVERAGE - 1) if failed else rng.randint(REQUIRED_COVERAGE, 95)
    )
    if failed:
        yield {
            "event_type": "workflow_failed",
            "event_data": {
                "error": "CoverageTooLow",
                "coverage": coverage,
                "required": REQUIRED_COVERAGE,
            },
            "message": (
                f"Test generation failed: coverage {coverage}% is under the "
                f"{REQUIRED_COVERAGE}% required"
            ),
        }
    else:
        yield {
            "event_type": "workflow_completed",
            "event_data": {"coverage": coverage, "tests_written": len(CLASSES) * ROUNDS},
            "message": f"Test generation completed with {coverage}% coverage",
        }


def _status(step_id: str, step: str, old: str, new: str) -> dict:
    return {
        "event_type": "step_status_changed",
        "step_id": step_id,
        "event_data": {"step": step, "old_status": old, "new_status": new},
        "message": f"Step {step}: {old} -> {new}",
    }


async def run_demos(
    base_url: str,
    api_key: str,
    started: Callable[[str, int], None],
    *,
    interval: float = 0.5,
    seed: int = 7,
) -> None:
    """Demo runs one after another until cancelled, one event every `interval` seconds, through
    the Python client (clients/python); `started(session_id, number)` hears of each. Demo runs
    a previous server left unfinished are cancelled first."""
    rng = random.Random(seed)
    requests = itertools.count()

    async def tag(request: httpx.Request) -> None:
        request.headers["X-Request-ID"] = f"{DEMO_REQUEST_PREFIX}{next(requests)}"  # not logged

    async def one_run(client: AsyncClient, number: int) -> None:
        session = await client.create_session(**DEMO_SESSION)
        started(str(session.id), number)
        await asyncio.sleep(interval)
        await client.update_session(session.id, status="in_progress")
        outcome = "completed"
        for event in workflow_events(rng):
            await asyncio.sleep(interval)
            await client.append_events(session.id, [event])
            if event["event_type"] == "workflow_failed":
                outcome = "failed"
        await client.update_session(session.id, status=outcome)

    headers = {"X-API-Key": api_key}
    hooks = {"request": [tag]}
    async with (
        httpx.AsyncClient(base_url=base_url, headers=headers, event_hooks=hooks) as http,
        AsyncClient(http=http) as client,
    ):
        with contextlib.suppress(Refused, httpx.HTTPError):
            await _cancel_unfinished(client)
        for number in itertools.count(1):
            try:
                await one_run(client, number)
            except (Refused, httpx.HTTPError) as error:  # the server busy or gone: again, later
                log.warning("demo_run_stopped", error=str(error))
                await asyncio.sleep(5)
            await asyncio.sleep(interval * 6)


DEMO_SESSION = {
    "session_type": "test_generation",
    "project_path": "/repos/spring-petclinic",
    "config": {"model": "gpt-4o", "demo": True},
}


async def _cancel_unfinished(client: AsyncClient) -> None:
    for status in ("pending", "in_progress"):
        for session in (await client.list_sessions(status=status, per_page=100)).items:
            if (session.config, session.project_path) == (
                DEMO_SESSION["config"],
                DEMO_SESSION["project_path"],
            ):
                await client.update_session(session.id, status="cancelled")
