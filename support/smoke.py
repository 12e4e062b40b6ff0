"""A short run of the service as a user meets it, on SQLite and on a throwaway PostgreSQL: for
checking an environment (`make check-minimums` runs it on the lowest versions pyproject allows).

    python -m support.smoke
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx

from support.live_server import READ_KEY, WRITE_KEY, LiveServer
from support.pg_server import PostgresServer


def exercise(server: LiveServer) -> None:
    """Create, append, list, an unchanged poll and a status change; AssertionError otherwise."""
    api = f"{server.base_url}/api/v2/sessions"
    write, read = {"X-API-Key": WRITE_KEY}, {"X-API-Key": READ_KEY}
    created = httpx.post(api, json={"session_type": "smoke"}, headers=write)
    assert created.status_code == 201, created.text
    events = f"{api}/{created.json()['id']}/events"
    batch = {"events": [{"event_type": "tick", "event_data": {"n": n}} for n in range(3)]}
    assert httpx.post(events, json=batch, headers=write).status_code == 201
    page = httpx.get(f"{events}?order=asc", headers=read)
    assert [e["seq"] for e in page.json()["items"]] == [1, 2, 3], page.text
    unchanged = httpx.get(
        f"{events}?order=asc", headers={**read, "If-None-Match": page.headers["ETag"]}
    )
    assert unchanged.status_code == 304
    done = httpx.patch(
        f"{api}/{created.json()['id']}", json={"status": "in_progress"}, headers=write
    )
    assert done.status_code == 200, done.text


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        postgres = PostgresServer().start()
        try:
            for name, url in (
                ("sqlite", f"sqlite:///{root}/smoke.db"),
                ("postgresql", postgres.create_database("smoke")),
            ):
                server = LiveServer(url, root / f"{name}.log").start()
                try:
                    exercise(server)
                finally:
                    server.stop()
                print(f"smoke: {name} ok")
        finally:
            postgres.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
