"""CPU time per request of the app itself: no HTTP server, no load tool, one request at a time.

    .venv/bin/python -m perf.request_cpu --database-url postgresql://... --session ID [-n 1000]
        [--connexion-stack] [--no-response-validation] [--callgrind] [scenario ...]
        # scenarios: poll initial troubleshoot deep 304 append

The ASGI app (lifespan, middleware, validation, handlers, database) is called directly as
tests/asgi.py does, and `time.process_time()` is read around n requests of each scenario (after
a warm-up round): steadier than throughput on a shared machine, and blind to uvicorn and to the
database server's own CPU. The session must hold at least 11 events; `append` adds 10 per request.
--connexion-stack sends the requests through Connexion's whole middleware stack instead of
session_events/direct_dispatch.py, --no-response-validation sets EVENTS_VALIDATE_RESPONSES=false:
to compare.

--callgrind counts instructions instead of timing (valgrind from Debian's packages): each
scenario runs under `valgrind --tool=callgrind` with instrumentation switched on for the measured
round only, and the instructions executed per request are printed. Slower (about a minute per
scenario at -n 200) but steady to a fraction of a percent on a machine whose timings move by
half: what each change of perf/RESULTS.md's 13:00 section was judged by.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import uvloop

from perf.callgrind import total_instructions, valgrind_command
from session_events.app import create_app
from session_events.settings import load_settings
from tests.asgi import request, running

KEY = "request-cpu"
SCENARIOS = ("poll", "initial", "troubleshoot", "deep", "304", "append")
BATCH = orjson.dumps(
    {
        "events": [
            {
                "event_type": "test_generated",
                "event_data": {"class": "OwnerController", "tokens": 1234},
                "message": "Generated 4 tests for OwnerController",
            }
        ]
        * 10
    }
)


async def measure(
    database_url: str,
    session_id: str,
    count: int,
    names: list[str],
    direct_dispatch: bool,
    validate_responses: bool,
    instrument: bool = False,
) -> None:
    settings = load_settings(
        {
            "EVENTS_DATABASE_URL": database_url,
            "EVENTS_WRITE_KEYS": KEY,
            "EVENTS_LOG_FORMAT": "json",
            "EVENTS_VALIDATE_RESPONSES": str(validate_responses).lower(),
        }
    )
    app = create_app(settings, direct_dispatch=direct_dispatch)
    path = f"/api/v2/sessions/{session_id}/events"
    async with running(app) as state:

        async def get(query: bytes, *headers: tuple[bytes, bytes]) -> list[dict]:
            return await request(app, state, "GET", path, query, key=KEY, headers=headers)

        body = orjson.loads((await get(b"per_page=11"))[-1]["body"])
        since = body["items"][10]["timestamp"]
        latest = body["latest_seq"]
        unchanged = f"after_seq={latest}".encode()
        tag = dict((await get(unchanged))[0]["headers"])[b"etag"]
        scenarios = {
            "poll": lambda: get(f"since={since}&per_page=50".encode()),
            "initial": lambda: get(b"per_page=100"),
            "troubleshoot": lambda: get(b"event_type=workflow_error&per_page=20"),
            "deep": lambda: get(b"page=50&per_page=100"),
            "304": lambda: get(unchanged, (b"if-none-match", tag)),
            "append": lambda: request(app, state, "POST", path, body=BATCH, key=KEY),
        }
        for name in names or list(scenarios):
            for measured in (False, True):  # warm-up round, then the measured one
                if instrument and measured:
                    _callgrind_instrumentation("on")
                started = time.process_time()
                for _ in range(count):
                    sent = await scenarios[name]()
                spent = time.process_time() - started
            if instrument:
                _callgrind_instrumentation("off")
            status = sent[0]["status"]
            print(f"{name}: {spent / count * 1000:.3f} ms CPU per request (status {status})")


def _callgrind_instrumentation(state: str) -> None:
    control = subprocess.Popen(
        ["callgrind_control", "-i", state, str(os.getpid())],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Valgrind takes the command only while this process runs code: waiting for it in a system
    # call (subprocess.run) could wait forever.
    while control.poll() is None:
        pass


def count_instructions(argv: list[str], names: list[str], count: int) -> None:
    """Each scenario in its own run of this script under callgrind (--instrument)."""
    for name in names:
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "callgrind.out"
            subprocess.run(
                [
                    *valgrind_command(out),
                    sys.executable,
                    "-m",
                    "perf.request_cpu",
                    *argv,
                    "--instrument",
                    name,
                ],
                check=True,
                capture_output=True,
            )
            total = total_instructions(Path(folder))
        print(f"{name}: {total // count:,} instructions per request", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--session", required=True, help="a session with at least 11 events")
    parser.add_argument("-n", type=int, default=1000, help="requests per scenario")
    parser.add_argument("--connexion-stack", action="store_true", help="no direct dispatch")
    parser.add_argument("--no-response-validation", action="store_true")
    parser.add_argument("--callgrind", action="store_true", help="count instructions (valgrind)")
    parser.add_argument("--instrument", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("scenarios", nargs="*")
    args = parser.parse_args()
    if args.callgrind:
        argv = ["--database-url", args.database_url, "--session", args.session, "-n", str(args.n)]
        argv += ["--connexion-stack"] * args.connexion_stack
        argv += ["--no-response-validation"] * args.no_response_validation
        count_instructions(argv, args.scenarios or list(SCENARIOS), args.n)
        return
    uvloop.run(
        measure(
            args.database_url,
            args.session,
            args.n,
            args.scenarios,
            not args.connexion_stack,
            not args.no_response_validation,
            args.instrument,
        )
    )


if __name__ == "__main__":
    main()
