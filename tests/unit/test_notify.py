"""db/notify.py: the in-process fan-out of wake-ups."""

from __future__ import annotations

import uuid

from session_events.db import notify, positions
from session_events.db.engine import open_database
from session_events.db.notify import Notifier, PostgresNotifier
from session_events.settings import Settings

A, B = uuid.uuid4(), uuid.uuid4()


async def test_wake_sets_the_watchers_of_that_session_only():
    notifier = Notifier()
    with notifier.watch(A) as on_a, notifier.watch(A) as also_on_a, notifier.watch(B) as on_b:
        notifier.wake(A)
        assert (on_a.is_set(), also_on_a.is_set(), on_b.is_set()) == (True, True, False)


async def test_wake_all_sets_every_watcher():
    notifier = Notifier()
    with notifier.watch(A) as on_a, notifier.watch(B) as on_b:
        notifier.wake_all()
        assert on_a.is_set() and on_b.is_set()


async def test_leaving_the_watch_forgets_the_watcher():
    notifier = Notifier()
    with notifier.watch(A), notifier.watch(A):
        assert notifier.watching == 2
    assert notifier.watching == 0
    notifier.wake(A)  # no one left: nothing to do, nothing raised


async def test_a_commit_in_this_process_wakes_its_watchers():
    notifier = Notifier()
    with notifier.watch(A) as on_a:
        notifier.committed(A)
        assert on_a.is_set()


async def test_on_postgresql_the_commit_is_left_to_notify():
    notifier = PostgresNotifier("postgresql://nowhere/db")
    with notifier.watch(A) as on_a:
        notifier.committed(A)
        assert not on_a.is_set()
        notifier._on_notification(None, 0, "session_events", f"{A}:7")
        assert on_a.is_set()


async def test_a_malformed_notification_is_ignored():
    notifier = PostgresNotifier("postgresql://nowhere/db")
    with notifier.watch(A) as on_a:
        notifier._on_notification(None, 0, "session_events", "not-a-uuid:1")
        assert not on_a.is_set()


def test_the_backend_picks_the_notifier(tmp_path):
    sqlite = open_database(Settings(database_url=f"sqlite:///{tmp_path}/x.db"))
    assert type(sqlite.notifier()) is Notifier
    assert type(open_database(Settings(database_url="postgresql://u@h/db")).notifier()) is (
        PostgresNotifier
    )


async def test_a_follower_hears_every_session_woken_and_every_wake_all():
    notifier = Notifier()
    told = []
    with notifier.watch(A) as on_a, notifier.follow(told.append):
        notifier.committed(A)
        notifier.wake(B)
        notifier.wake_all()
        assert on_a.is_set()  # the session's watchers are woken as before
    notifier.wake(A)  # no longer following
    assert told == [A, B, None]


async def test_on_postgresql_a_follower_hears_the_notified_session():
    notifier = PostgresNotifier("postgresql://nowhere/db")
    told = []
    with notifier.follow(told.append):
        notifier._on_notification(None, 0, "session_events", f"{A}:0")
    assert told == [A]


def test_a_wake_up_whose_position_was_not_asked_reads_the_primary_until_one_is(monkeypatch):
    """A measure that failed sends the woken to the primary; the next one that succeeds was
    asked after that commit, so it is enough for them, and forgetting them (the oldest go past
    POSITIONS_KEPT) never sends every session's wake-ups to the primary."""
    monkeypatch.setattr(notify, "POSITIONS_KEPT", 2)
    notifier = PostgresNotifier("postgresql://nowhere/db", measure=True)
    notifier._keep(A, positions.PRIMARY)  # the listener could not be asked
    assert notifier.position_of(A) == positions.PRIMARY
    notifier._keep(B, 100)
    assert notifier.position_of(A) == 100
    for n, session_id in enumerate([uuid.uuid4(), uuid.uuid4()], start=1):
        notifier._keep(session_id, 100 + n)  # A and B are forgotten
    assert notifier.position_of(A) == notifier.position_of(uuid.uuid4()) == 100


def test_a_position_kept_below_the_floor_is_read_at_the_floor():
    """A measure made before the listener came back may land after it: the floor set then
    (everything committed before it) still holds for that session."""
    notifier = PostgresNotifier("postgresql://nowhere/db", measure=True)
    notifier._floor = 200  # as _keep_listening sets it on connecting
    notifier._keep(A, 150)
    assert notifier.position_of(A) == 200
