"""A simulated test-generation workflow that appends realistic events through the public API.

`session-events serve --demo` runs it beside the server so that a newcomer sees events arrive.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import Iterator

import httpx
import structlog

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


def workflow_events(rng: random.Random) -> Iterator[dict]:
    """An endless test-generation run: one step per class, forever, with the odd failure."""
    yield {
        "event_type": "workflow_started",
        "event_data": {"workflow": "test_generation", "project": "spring-petclinic"},
        "message": "Test generation started for spring-petclinic",
    }
    for round_no in itertools.count(1):
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
            "message": f"Round {round_no} completed; starting over to improve coverage",
        }


def _status(step_id: str, step: str, old: str, new: str) -> dict:
    return {
        "event_type": "step_status_changed",
        "step_id": step_id,
        "event_data": {"step": step, "old_status": old, "new_status": new},
        "message": f"Step {step}: {old} -> {new}",
    }


async def create_demo_session(base_url: str, api_key: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": api_key}) as client:
        response = await client.post(
            "/api/v2/sessions",
            json={
                "session_type": "test_generation",
                "project_path": "/repos/spring-petclinic",
                "config": {"model": "gpt-4o", "demo": True},
            },
        )
        response.raise_for_status()
        return response.json()["id"]


async def run_demo(
    base_url: str, api_key: str, session_id: str, interval: float = 0.5, seed: int = 7
) -> None:
    """Append one event every `interval` seconds until cancelled."""
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=base_url, headers={"X-API-Key": api_key}) as client:
        for number, event in enumerate(workflow_events(rng)):
            response = await client.post(
                f"/api/v2/sessions/{session_id}/events",
                json={"events": [event]},
                headers={"X-Request-ID": f"{DEMO_REQUEST_PREFIX}{number}"},
            )
            if response.status_code != 201:
                log.warning("demo_append_failed", status=response.status_code)
            await asyncio.sleep(interval)
