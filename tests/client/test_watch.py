"""follow_sessions() and `watch` against live servers on both databases: a dashboard kept by the
changes matches the listing, a server restart and a later process resume from the cursor, and
`watch` prints what happens until Ctrl-C ends it with 0."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from session_events_client import AsyncClient, Client, Created, Deleted, Snapshot, Updated

from support.live_server import READ_KEY, WRITE_KEY
from tests.client.processes import interruptible

COMMAND = str(Path(sys.executable).parent / "session-events-client")
PATIENCE = 30  # seconds a change may take before the test gives up on it (never a threshold)


@pytest.fixture
def server(live_server):
    return live_server(EVENTS_STREAM_HEARTBEAT_SECONDS="0.5")


class Dashboard:
    """The sessions as follow_sessions() says they are, kept by a thread: the snapshot replaces
    them, a change upserts or drops one."""

    def __init__(self, base_url: str, **filters):
        self.client = Client(base_url, api_key=READ_KEY)
        self.changes: list = []
        self.sessions: dict = {}
        self.filters = filters
        self.error: ConnectionError | None = None
        threading.Thread(target=self.follow, daemon=True).start()

    def follow(self):
        try:
            for change in self.client.follow_sessions(**self.filters):
                if isinstance(change, Snapshot):
                    sessions = {session.id: session for session in change.sessions}
                elif isinstance(change, Deleted):
                    sessions = {id: s for id, s in self.sessions.items() if id != change.id}
                else:
                    sessions = {**self.sessions, change.session.id: change.session}
                self.sessions = sessions  # replaced whole: the test reads it meanwhile
                self.changes.append(change)
        except ConnectionError as error:  # the server is gone for good: the test's end, or
            self.error = error  # a failure until() reports

    def until(self, holds) -> None:
        deadline = time.monotonic() + PATIENCE
        while not holds() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert holds(), f"not seen in {PATIENCE} s; changes {self.changes}, error {self.error}"

    def shows(self, sessions) -> bool:
        return {s.id: (s.status, s.event_count) for s in sessions} == {
            s.id: (s.status, s.event_count) for s in self.sessions.values()
        }


def listed(client: Client, status=None):
    return client.list_sessions(status=status, per_page=100).items


def test_a_dashboard_kept_by_the_changes_shows_what_the_listing_does(server):
    with Client(server.base_url, api_key=WRITE_KEY) as client:
        first = client.create_session("build")
        dashboard = Dashboard(server.base_url)
        dashboard.until(lambda: dashboard.changes)
        assert isinstance(dashboard.changes[0], Snapshot)
        assert [s.id for s in dashboard.changes[0].sessions] == [first.id]
        made = client.create_session("agent", project_path="/repos/x")
        dashboard.until(lambda: made.id in dashboard.sessions)
        assert any(isinstance(c, Created) and c.session.id == made.id for c in dashboard.changes)
        client.update_session(made.id, status="in_progress")
        client.append_events(made.id, [{"event_type": "log"}] * 3)
        client.update_session(made.id, status="completed")
        client.delete_session(first.id)
        dashboard.until(lambda: dashboard.shows(listed(client)))
        assert dashboard.sessions[made.id].status == "completed"
        assert dashboard.sessions[made.id].event_count == 5  # 2 status changes and 3 logs
        assert any(isinstance(c, Deleted) and c.id == first.id for c in dashboard.changes)
        assert all(not isinstance(c, Snapshot) for c in dashboard.changes[1:])


def test_a_filtered_dashboard_drops_a_session_that_stops_matching(server):
    with Client(server.base_url, api_key=WRITE_KEY) as client:
        dashboard = Dashboard(server.base_url, status="in_progress", session_types=["build"])
        dashboard.until(lambda: dashboard.changes)
        running = client.create_session("build")
        other = client.create_session("agent")
        client.update_session(running.id, status="in_progress")
        client.update_session(other.id, status="in_progress")
        dashboard.until(lambda: running.id in dashboard.sessions)
        client.update_session(running.id, status="failed")
        dashboard.until(lambda: dashboard.sessions[running.id].status == "failed")
    assert other.id not in dashboard.sessions


def test_a_server_restart_loses_no_status_change(server):
    with Client(server.base_url, api_key=WRITE_KEY) as client:
        session = client.create_session("build")
        dashboard = Dashboard(server.base_url)
        dashboard.until(lambda: dashboard.changes)
        server.stop()  # the stream ends; nothing answers while it is down
        server.start()
        client.update_session(session.id, status="in_progress")  # likely before the reconnect
        client.update_session(session.id, status="paused")
        dashboard.until(lambda: dashboard.shows(listed(client)))
    assert dashboard.sessions[session.id].status == "paused"
    assert [type(c) for c in dashboard.changes if isinstance(c, Snapshot)] == [Snapshot]


def test_a_later_process_resumes_from_a_cursor_without_a_snapshot(server):
    with Client(server.base_url, api_key=WRITE_KEY) as client:
        session = client.create_session("build")
        changes = iter(client.follow_sessions())
        cursor = next(changes).cursor
        changes.close()  # the first process is gone
        client.update_session(session.id, status="cancelled")
        later = iter(client.follow_sessions(cursor=cursor))
        change = next(later)
        later.close()
    assert isinstance(change, Updated)
    assert (change.session.id, change.session.status) == (session.id, "cancelled")


async def test_the_async_client_follows_the_sessions_live(server):
    async with AsyncClient(server.base_url, api_key=WRITE_KEY) as client:
        changes = client.follow_sessions(limit=1)
        snapshot = await anext(changes)
        made = await client.create_session("build")
        created = await anext(changes)
        await changes.aclose()
    assert isinstance(snapshot, Snapshot) and snapshot.sessions == []
    assert isinstance(created, Created) and created.session.id == made.id


def test_watch_prints_the_sessions_then_each_change_and_ctrl_c_exits_0(server):
    env = {"PATH": str(Path(sys.executable).parent), "TZ": "UTC",
           "EVENTS_URL": server.base_url, "EVENTS_API_KEY": READ_KEY}  # fmt: skip
    with Client(server.base_url, api_key=WRITE_KEY) as client:
        first = client.create_session("build", project_path="/repos/petclinic")
        watch = interruptible(
            [COMMAND, "watch", "--session-type", "build"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        header, row = watch.stdout.readline(), watch.stdout.readline()
        client.create_session("agent")  # another type: not shown
        made = client.create_session("build")
        created = watch.stdout.readline()
        client.update_session(made.id, status="in_progress")
        updated = watch.stdout.readline()
        watch.send_signal(signal.SIGINT)
        _, err = watch.communicate(timeout=PATIENCE)
    assert (watch.returncode, err) == (0, "")
    assert header.split()[:2] == ["id", "status"]
    assert row.split()[:3] == [str(first.id), "pending", "build"]
    assert created.split()[2:] == [str(made.id), "created", "build", "pending", "0", "events"]
    assert updated.split()[2:] == [str(made.id), "updated", "build", "in_progress", "1", "event"]
