"""Instructions the whole server spends per request over HTTP: uvicorn, the app, asyncpg, logging.

    .venv/bin/python -m perf.lab.server_instructions --database-url postgresql://... --session ID
        [-n 300] [--concurrency 1] [--no-response-validation] [--tree DIR] [--python PATH]
        [scenario ...]
        # scenarios: poll cursor initial troubleshoot deep 304 append

`--tree` serves another source tree (an exported commit) and `--python` runs the server with
another venv's interpreter (perf/venvs.py builds one per tree): the same requests against the
same database then tell a code change from a dependency change.

`session-events serve` runs under `valgrind --tool=callgrind` with instrumentation off; after a
warm-up round, instrumentation is switched on for n requests sent over keep-alive connections
(`--concurrency` of them at once, from threads of this process) and off again, and the count is
divided by n. This sees what a request costs the server process end to end: uvicorn's
protocol and the event loop, the access line, the pool's queue when more requests than
connections are in flight. User-space instructions only: the kernel's share (sockets, the log's
write) is not counted. Valgrind counts each byte a `rep movsb` copies as an instruction, so large
bodies' memcpy weighs more here than it costs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from perf.lab.callgrind import total_instructions, valgrind_command

PORT = 8109
KEY = "server-instructions"
APPEND_BODY = json.dumps(
    {"events": [{"event_type": "step_completed", "event_data": {"step": 3}, "message": "done"}]}
)


def _connect() -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)


def _get(conn, path: str, headers: dict) -> tuple[int, dict, bytes]:
    """GET path, or POST it when `headers` carry a body under "body"."""
    headers = dict(headers)
    body = headers.pop("body", None)
    method = "GET" if body is None else "POST"
    conn.request(method, path, body=body, headers={"X-API-Key": KEY, **headers})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def _requests(session: str) -> dict[str, tuple[str, dict]]:
    """Each scenario's (path, headers), read off the running server."""
    base = f"/api/v2/sessions/{session}/events"
    conn = _connect()
    _, _, body = _get(conn, f"{base}?per_page=11", {})
    page = json.loads(body)
    since, latest = page["items"][10]["timestamp"], page["latest_seq"]
    _, headers, _ = _get(conn, f"{base}?after_seq={latest}", {})
    etag = next(value for name, value in headers.items() if name.lower() == "etag")
    return {
        "poll": (f"{base}?since={since}&per_page=50", {}),
        "cursor": (f"{base}?after_seq={latest - 10}&order=asc&per_page=50", {}),
        "initial": (f"{base}?per_page=100", {}),
        "troubleshoot": (f"{base}?event_type=workflow_error&per_page=20", {}),
        "deep": (f"{base}?page=50&per_page=100", {}),
        "304": (f"{base}?after_seq={latest}", {"If-None-Match": etag}),
        # One event a request, as a producer reporting a step sends it (ids chosen by the server).
        "append": (base, {"Content-Type": "application/json", "body": APPEND_BODY}),
    }


def _send(path: str, headers: dict, count: int, concurrency: int) -> int:
    """count requests over `concurrency` connections; the last status."""
    statuses = []

    def client(share: int) -> None:
        conn = _connect()
        for _ in range(share):
            status, _, _ = _get(conn, path, headers)
        statuses.append(status)

    threads = [
        threading.Thread(target=client, args=(count // concurrency,)) for _ in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses[-1]


def _instrumentation(pid: int, state: str) -> None:
    subprocess.run(["callgrind_control", "-i", state, str(pid)], check=True, capture_output=True)


def measure(args, scenario: str) -> None:
    env = {
        **os.environ,
        "EVENTS_DATABASE_URL": args.database_url,
        "EVENTS_READ_KEYS": KEY,
        "EVENTS_WRITE_KEYS": KEY,
        "EVENTS_LOG_FORMAT": "json",
        "EVENTS_VALIDATE_RESPONSES": str(not args.no_response_validation).lower(),
    }
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        command = [*valgrind_command(out), args.python, "-m", "session_events.cli"]
        command += ["serve", "--port", str(PORT)]
        with open(Path(folder) / "server.log", "w") as log:
            server = subprocess.Popen(
                command, env=env, cwd=args.tree, stdout=log, stderr=subprocess.STDOUT
            )
        try:
            _wait_until_serving(server)
            path, headers = _requests(args.session)[scenario]
            count = args.n // args.concurrency * args.concurrency
            _send(path, headers, count, args.concurrency)  # warm-up
            _instrumentation(server.pid, "on")
            status = _send(path, headers, count, args.concurrency)
            _instrumentation(server.pid, "off")
        finally:
            server.terminate()
            server.wait()
        total = total_instructions(Path(folder))
    print(f"{scenario}: {total // count:,} instructions per request (status {status})", flush=True)


def _wait_until_serving(server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 300  # valgrind starts the server about 50 times slower
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited; see its log")
        try:
            _get(_connect(), "/healthz", {})
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit("the server did not start within 300 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--session", required=True, help="a session with at least 11 events")
    parser.add_argument("-n", type=int, default=300, help="requests measured per scenario")
    parser.add_argument("--concurrency", type=int, default=1, help="connections at once")
    parser.add_argument("--no-response-validation", action="store_true")
    parser.add_argument("--tree", type=Path, help="serve this source tree (default: this one)")
    parser.add_argument("--python", default=sys.executable, help="the server's interpreter")
    parser.add_argument("scenarios", nargs="*", default=["poll", "initial", "304"])
    args = parser.parse_args()
    for scenario in args.scenarios:
        measure(args, scenario)


if __name__ == "__main__":
    main()
