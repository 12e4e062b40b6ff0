"""Realistic TestBoost sessions: the events a test-generation workflow appends, fast to make.

`SessionPlan` says what one session looks like (how many events, its final status);
`make_events` yields its events in seq order as plain tuples, with gap-free seqs from 1 and
strictly increasing timestamps that end at the plan's `ends_at`. Everything comes from one
seeded `random.Random`, so a seed gives the same data set every time.
"""

from __future__ import annotations

import itertools
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

MODELS = ("claude-sonnet-4", "gpt-4.1", "mistral-large-2", "gpt-4o-mini")
PACKAGES = (
    "org.springframework.samples.petclinic.owner",
    "org.springframework.samples.petclinic.vet",
    "org.springframework.samples.petclinic.visit",
    "com.acme.billing.invoice",
    "com.acme.billing.payment",
    "com.acme.inventory.stock",
    "io.testboost.demo.orders",
)
CLASSES = (
    "OwnerController",
    "PetController",
    "VisitController",
    "VetController",
    "OwnerRepository",
    "PetValidator",
    "InvoiceService",
    "PaymentGateway",
    "StockLevelCalculator",
    "OrderMapper",
    "DiscountPolicy",
    "CustomerFacade",
)
STEPS = (
    "analyze_project",
    "discover_classes",
    "generate_tests",
    "compile_tests",
    "run_tests",
    "measure_coverage",
    "mutation_testing",
    "fix_failing_tests",
)
ERRORS = (
    ("CompilationError", "cannot find symbol: method getOwner(int)"),
    ("CompilationError", "incompatible types: String cannot be converted to Pet"),
    ("TestExecutionError", "Maven surefire exited with code 1"),
    ("LLMTimeout", "no completion after 120 s"),
    ("LLMRateLimited", "429 Too Many Requests from the model provider"),
    ("ToolError", "mvn: dependency org.mockito:mockito-core:5.11.0 not resolved"),
)
FAILURES = (
    "expected: <200> but was: <404>",
    "expected: <George> but was: <null>",
    "Wanted but not invoked: ownerRepository.save(<any>)",
    "NullPointerException at PetValidator.validate(PetValidator.java:41)",
    "AssertionFailedError: expected: <true> but was: <false>",
)
# The types of the work inside a step, and how often each comes up.
WORK = (
    ("llm_call", 5),
    ("test_generated", 4),
    ("test_passed", 3),
    ("test_failed", 1),
    ("file_written", 2),
    ("coverage_measured", 1),
)
WORK_TYPES = [name for name, weight in WORK for _ in range(weight)]
ERROR_RATE = 0.015  # share of workflow_error events: the "troubleshoot" scenario filters on them


@dataclass(frozen=True)
class SessionPlan:
    id: uuid.UUID
    events: int
    status: str  # in_progress, paused, completed, failed, cancelled
    ends_at: datetime  # the timestamp of the session's newest event
    project: str
    session_type: str = "test_generation"


def new_uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _tail(status: str) -> list[tuple[str, dict, str]]:
    """The last events of a session that reached `status`."""
    change = (
        "status_changed",
        {"old_status": "in_progress", "new_status": status},
        f"Session in_progress -> {status}",
    )
    if status == "completed":
        done = {"tests_generated": 148, "tests_passing": 139, "line_coverage": 0.83}
        return [("workflow_completed", done, "Workflow completed: 148 tests, 83% coverage"), change]
    if status == "failed":
        error = {"error": "WorkflowAborted", "step": "run_tests", "retries": 3}
        return [("workflow_error", error, "Workflow aborted after 3 retries"), change]
    if status in ("paused", "cancelled"):
        return [change]
    return []


class EventMaker:
    """The events of sessions, as tuples (seq, id, step_id, event_type, event_data, message, ts)."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def _work(self, kind: str, step: str, cls: str, package: str, project: str):
        rng = self.rng
        path = f"{project}/src/test/java/{package.replace('.', '/')}/{cls}Test.java"
        if kind == "llm_call":
            prompt, completion = rng.randint(800, 12_000), rng.randint(150, 4_000)
            data = {
                "model": rng.choice(MODELS),
                "purpose": step,
                "class_name": f"{package}.{cls}",
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "duration_ms": rng.randint(900, 45_000),
                "cost_usd": round((prompt * 3 + completion * 15) / 1_000_000, 5),
            }
            return data, f"LLM call for {cls} ({prompt + completion} tokens)"
        if kind == "test_generated":
            methods = rng.randint(2, 24)
            data = {
                "class_name": f"{package}.{cls}",
                "test_class": f"{cls}Test",
                "file_path": path,
                "test_methods": methods,
                "lines": methods * rng.randint(9, 30),
                "framework": "junit5",
                "mocks": ["Mockito", "MockMvc"][: rng.randint(0, 2)],
            }
            return data, f"Generated {methods} tests for {cls}"
        if kind in ("test_passed", "test_failed"):
            verb = rng.choice(("Return", "Reject", "Save", "Find", "Update", "Validate"))
            method = f"should{verb}{cls}{rng.randint(1, 40)}"
            data = {"test_class": f"{cls}Test", "method": method}
            data["duration_ms"] = rng.randint(3, 900)
            if kind == "test_passed":
                return data, f"{cls}Test.{method} passed"
            data.update(
                file_path=path,
                line=rng.randint(20, 400),
                error_type="AssertionFailedError",
                assertion=rng.choice(FAILURES),
            )
            return data, f"{cls}Test.{method} failed"
        if kind == "file_written":
            data = {"file_path": path, "bytes": rng.randint(900, 24_000), "action": "write"}
            return data, f"Wrote {cls}Test.java"
        covered = rng.randint(40, 98)
        data = {
            "class_name": f"{package}.{cls}",
            "line_coverage": covered / 100,
            "branch_coverage": rng.randint(20, covered) / 100,
            "lines_missed": rng.randint(0, 120),
            "tool": "jacoco",
        }
        return data, f"Coverage of {cls}: {covered}%"

    def _error(self, step: str, cls: str, package: str, project: str):
        error, detail = self.rng.choice(ERRORS)
        data = {
            "error": error,
            "step": step,
            "class_name": f"{package}.{cls}",
            "file_path": f"{project}/src/test/java/{package.replace('.', '/')}/{cls}Test.java",
            "detail": detail,
            "retryable": error.startswith("LLM"),
        }
        return data, f"{error} in {step} for {cls}: {detail}"

    def _body(self, plan: SessionPlan, count: int) -> Iterator[tuple]:
        """`count` events (type, data, message, step_id): the start, then steps of work."""
        rng = self.rng
        yield (
            "status_changed",
            {"old_status": "pending", "new_status": "in_progress"},
            "Session pending -> in_progress",
            None,
        )
        yield (
            "workflow_started",
            {
                "workflow": "test_generation",
                "project_path": plan.project,
                "build_tool": "maven",
                "java_version": "17",
                "target_coverage": 0.8,
                "model": MODELS[0],
            },
            "Workflow test_generation started",
            None,
        )
        made, index = 2, 0
        while made < count:
            step = STEPS[index % len(STEPS)]
            cls, package = rng.choice(CLASSES), rng.choice(PACKAGES)
            index += 1
            step_id = new_uuid(rng)
            started = {"step": step, "step_index": index, "class_name": f"{package}.{cls}"}
            yield "step_started", started, f"Step {step} started", step_id
            made += 1
            for _ in range(min(rng.randint(4, 30), count - made - 1)):
                if rng.random() < ERROR_RATE:
                    data, message = self._error(step, cls, package, plan.project)
                    yield "workflow_error", data, message, step_id
                else:
                    kind = rng.choice(WORK_TYPES)
                    data, message = self._work(kind, step, cls, package, plan.project)
                    yield kind, data, message, step_id
                made += 1
            if made < count:
                done = {"step": step, "status": "success"}
                done["duration_ms"] = rng.randint(2_000, 600_000)
                yield "step_completed", done, f"Step {step} completed", step_id
                made += 1

    def events(self, plan: SessionPlan) -> Iterator[tuple]:
        """The plan's events, oldest first: seq 1..N with strictly increasing timestamps that end
        exactly at `plan.ends_at` (gaps of 2 ms to 2 s)."""
        rng = self.rng
        gaps = [rng.randint(2_000, 2_000_000) for _ in range(plan.events)]
        gaps[0] = 0
        stamp = plan.ends_at - timedelta(microseconds=sum(gaps))
        tail = _tail(plan.status)[: plan.events]
        body = self._body(plan, plan.events - len(tail))
        rows = itertools.chain(body, ((t, d, m, None) for t, d, m in tail))
        for seq, ((event_type, data, message, step_id), gap) in enumerate(
            zip(rows, gaps, strict=True), start=1
        ):
            stamp += timedelta(microseconds=gap)
            yield seq, new_uuid(rng), step_id, event_type, data, message, stamp
