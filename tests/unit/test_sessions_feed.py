"""handlers/sessions_feed.py and the hub's Subscriber: what one sessions stream sends of each
change, with which cursor, and when it gives up on a slow client."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson

from session_events.handlers.sessions_feed import (
    EPOCH,
    Change,
    Feed,
    Filters,
    cursor_of,
    instant_of,
)
from session_events.handlers.sessions_hub import SLOW, Subscriber

QUEUE_BYTES = 1024 * 1024

T0 = datetime(2026, 1, 13, 14, 30, tzinfo=UTC)


def session(
    id: uuid.UUID,
    status: str = "pending",
    version: int = 0,
    session_type: str = "build",
    created_at: datetime = T0,
) -> Change:
    stamp = created_at + timedelta(seconds=version)
    row = {
        "id": id,
        "session_type": session_type,
        "status": status,
        "project_path": None,
        "config": {},
        "created_at": created_at,
        "updated_at": stamp,
        "last_seq": version,
        "last_event_at": stamp if version else None,
        "completed_at": None,
        "last_message": None,
    }
    return Change.of_session(row)


def deleted(id: uuid.UUID, session_type: str = "build") -> Change:
    return Change.of_tombstone(
        {"id": id, "session_type": session_type, "deleted_at": T0 + timedelta(hours=1)}
    )


def test_cursors_are_microseconds_since_the_epoch():
    stamp = datetime(2026, 1, 13, 14, 30, 1, 2, tzinfo=UTC)
    assert cursor_of(stamp) == 1768314601000002
    assert instant_of(1768314601000002) == stamp
    assert instant_of(0) == EPOCH
    assert instant_of(10**20 - 1) is None  # beyond what a datetime holds


def test_change_data_is_the_session_document_or_the_deleted_id():
    one = uuid.uuid4()
    document = orjson.loads(session(one, version=2).data)
    assert document["id"] == str(one) and document["event_count"] == 2
    assert orjson.loads(deleted(one).data) == {"id": str(one)}


def test_a_new_matching_session_is_created_then_updated_and_repeats_are_dropped():
    feed = Feed(Filters(None, frozenset()))
    one = uuid.uuid4()
    assert feed.decide(session(one)) == "session_created"
    assert feed.decide(session(one)) is None  # the same version again (a rescan)
    assert feed.decide(session(one, "in_progress", 1)) == "session_updated"
    assert feed.decide(session(one, "pending", 0)) is None  # older than what was sent
    assert feed.decide(deleted(one)) == "session_deleted"
    assert feed.decide(deleted(one)) is None  # no longer held


def test_a_session_that_stops_matching_is_sent_once_then_forgotten():
    feed = Feed(Filters("in_progress", frozenset({"build"})))
    one, other = uuid.uuid4(), uuid.uuid4()
    assert feed.decide(session(one)) is None  # pending: never held
    assert feed.decide(session(one, "in_progress", 1)) == "session_created"
    assert feed.decide(session(one, "paused", 2)) == "session_updated"
    assert feed.decide(session(one, "paused", 3)) is None
    assert feed.decide(session(one, "in_progress", 4)) == "session_created"
    assert feed.decide(session(other, "in_progress", 1, "agent")) is None  # another type
    assert feed.decide(deleted(other, "agent")) is None


def test_a_snapshot_item_is_held_and_a_stale_change_of_it_dropped():
    feed = Feed(Filters(None, frozenset()))
    one = uuid.uuid4()
    feed.sent(session(one, "in_progress", 5))
    assert feed.decide(session(one, "in_progress", 4)) is None  # read by the hub before
    assert feed.decide(session(one, "paused", 6)) == "session_updated"


def test_a_recreated_session_is_not_taken_for_a_stale_one():
    feed = Feed(Filters(None, frozenset()))
    one = uuid.uuid4()
    feed.sent(session(one, version=5))
    again = session(one, created_at=T0 + timedelta(days=1))
    assert feed.decide(again) == "session_updated"  # held under that id: an upsert


def test_a_resumed_stream_assumes_its_client_holds_what_existed_before():
    feed = Feed(Filters("in_progress", frozenset()))
    feed.resume(T0 + timedelta(minutes=1), T0 + timedelta(minutes=3))
    old, older, since, new = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    after_cursor, after_resume = T0 + timedelta(minutes=2), T0 + timedelta(minutes=4)
    assert feed.decide(session(old, "in_progress", 1)) == "session_updated"
    assert feed.decide(session(older, "paused", 1)) == "session_updated"  # drop it, if held
    assert feed.decide(session(older, "paused", 2)) is None  # told already
    # Made after its cursor, it may have been received all the same: told to drop it too.
    assert feed.decide(session(since, "paused", 1, created_at=after_cursor)) == "session_updated"
    assert feed.decide(session(new, created_at=after_resume)) is None  # made since: never held
    made = session(new, "in_progress", 1, created_at=after_resume)
    assert feed.decide(made) == "session_created"
    fresh = session(uuid.uuid4(), "in_progress", 1, created_at=after_cursor)
    assert feed.decide(fresh) == "session_created"  # made while the client was away
    gone = uuid.uuid4()
    assert feed.decide(deleted(gone)) == "session_deleted"  # may have been held
    assert feed.decide(deleted(gone)) is None


def test_a_subscriber_buffers_until_joined_and_gives_the_batch_its_cursors():
    feed = Feed(Filters(None, frozenset()))
    subscriber = Subscriber(feed, QUEUE_BYTES)
    one, two = uuid.uuid4(), uuid.uuid4()
    subscriber.offer([session(one, version=1), session(two)], 100, 200)
    assert subscriber.take() == [] and not subscriber.ready.is_set()
    feed.sent(session(one, version=1))  # the snapshot had it already
    subscriber.join()
    [message] = subscriber.take()
    assert message.startswith(b"id: 200\nevent: session_created\ndata: {")
    subscriber.offer([session(one, "paused", 2), session(two, "paused", 1)], 200, 300)
    first, last = subscriber.take()
    assert first.startswith(b"id: 200\nevent: session_updated\n")  # the batch's rest may be lost
    assert last.startswith(b"id: 300\nevent: session_updated\n")


def test_comments_before_the_first_read_are_left_to_the_stream():
    subscriber = Subscriber(Feed(Filters(None, frozenset())), QUEUE_BYTES)
    subscriber.comment(b": waiting\n\n")
    subscriber.join()
    assert subscriber.take() == []
    subscriber.comment(b": waiting\n\n")
    assert subscriber.take() == [b": waiting\n\n"]


def test_a_subscriber_whose_client_falls_behind_is_ended():
    subscriber = Subscriber(Feed(Filters(None, frozenset())), 1000)
    subscriber.join()
    for _ in range(10):
        subscriber.offer([session(uuid.uuid4())], 1, 2)
    assert subscriber.ended == SLOW and subscriber.take() == []
    assert subscriber.ready.is_set()
    subscriber.comment(b": more\n\n")
    assert subscriber.take() == []
