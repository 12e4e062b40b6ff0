"""POST /api/v2/sessions/{session_id}/events against the real app on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import uuid

from tests.conftest import READ
from tests.integration.api.api_helpers import (
    EVENT_FIELDS,
    TIMESTAMP,
    append_events,
    event_count,
    list_events,
    new_session,
    post_events,
    session_url,
    stored_total,
)


def stored_events(client, session_id: str) -> list[dict]:
    """The session's stored events as the listing returns them, newest first."""
    return list_events(client, session_id, "per_page=100")["items"]


def canonical(value) -> str:
    """The JSON text of a value with its key order, to compare documents order included."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def round_trip(client, event_data: dict, message: str | None = "m") -> tuple[dict, dict]:
    """Append one event and return it as the append and as the listing returned it."""
    session_id = new_session(client)
    [posted] = append_events(
        client,
        session_id,
        [{"event_type": "payload", "event_data": event_data, "message": message}],
    )
    [stored] = stored_events(client, session_id)
    return posted, stored


# --- order, seq, timestamps, ids -----------------------------------------------------------------


def test_append_returns_201_with_items_in_request_order(client):
    session_id = new_session(client)
    response = post_events(
        client,
        session_id,
        [
            {"event_type": "first", "message": "one"},
            {"event_type": "second", "message": "two"},
            {"event_type": "third", "message": "three"},
        ],
    )
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    items = response.json()["items"]
    assert [(e["event_type"], e["message"]) for e in items] == [
        ("first", "one"),
        ("second", "two"),
        ("third", "three"),
    ]
    assert {e["session_id"] for e in items} == {session_id}


def test_seq_is_gap_free_across_batches(client):
    session_id = new_session(client)
    first = append_events(client, session_id, [{"event_type": "a"} for _ in range(3)])
    second = append_events(client, session_id, [{"event_type": "b"} for _ in range(4)])
    assert [e["seq"] for e in first] == [1, 2, 3]
    assert [e["seq"] for e in second] == [4, 5, 6, 7]
    assert event_count(client, session_id) == 7
    assert [e["seq"] for e in stored_events(client, session_id)] == [7, 6, 5, 4, 3, 2, 1]


def test_timestamps_strictly_increase_in_six_digit_z_format(client):
    session_id = new_session(client)
    items = append_events(client, session_id, [{"event_type": "a"} for _ in range(50)])
    items += append_events(client, session_id, [{"event_type": "b"} for _ in range(50)])
    stamps = [e["timestamp"] for e in items]
    assert all(TIMESTAMP.fullmatch(stamp) for stamp in stamps), stamps
    assert stamps == sorted(set(stamps))  # strictly increasing: ordered and no repeats
    assert len(stamps) == 100
    response = client.get(session_url(session_id), headers=READ)
    assert response.json()["last_event_at"] == stamps[-1]


def test_given_event_ids_are_kept(client):
    session_id = new_session(client)
    ids = [str(uuid.uuid4()) for _ in range(3)]
    items = append_events(client, session_id, [{"id": i, "event_type": "a"} for i in ids])
    assert [e["id"] for e in items] == ids
    assert [e["id"] for e in stored_events(client, session_id)] == ids[::-1]


def test_missing_event_ids_are_generated(client):
    session_id = new_session(client)
    given = str(uuid.uuid4())
    items = append_events(
        client,
        session_id,
        [{"event_type": "a"}, {"id": given, "event_type": "b"}, {"event_type": "c"}],
    )
    generated = [items[0]["id"], items[2]["id"]]
    assert items[1]["id"] == given
    assert all(str(uuid.UUID(i)) == i for i in generated)
    assert len({*generated, given}) == 3
    assert [e["id"] for e in stored_events(client, session_id)] == [
        items[2]["id"],
        given,
        items[0]["id"],
    ]


def test_appended_event_is_returned_with_every_field(client):
    session_id = new_session(client)
    event_id, step_id = str(uuid.uuid4()), str(uuid.uuid4())
    [event] = append_events(
        client,
        session_id,
        [
            {
                "id": event_id,
                "event_type": "step_status_changed",
                "step_id": step_id,
                "event_data": {"step": "generate_tests"},
                "message": "Step started",
            }
        ],
    )
    assert set(event) == EVENT_FIELDS
    assert {k: v for k, v in event.items() if k != "timestamp"} == {
        "id": event_id,
        "session_id": session_id,
        "seq": 1,
        "step_id": step_id,
        "event_type": "step_status_changed",
        "event_data": {"step": "generate_tests"},
        "message": "Step started",
    }
    assert stored_events(client, session_id) == [event]


# --- atomicity -----------------------------------------------------------------------------------


def test_batch_with_one_invalid_event_stores_nothing(client):
    session_id = new_session(client)
    append_events(client, session_id, [{"event_type": "before"}])
    response = post_events(
        client,
        session_id,
        [{"event_type": "fine"}, {"event_type": "Not-Snake-Case"}, {"event_type": "also_fine"}],
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"].startswith("events[1].event_type ")
    assert stored_total(client, session_id) == 1
    assert event_count(client, session_id) == 1


def test_event_id_stored_in_another_session_is_409_naming_it(client):
    other_session = new_session(client)
    taken = str(uuid.uuid4())
    append_events(client, other_session, [{"id": taken, "event_type": "original"}])
    session_id = new_session(client)

    response = post_events(
        client,
        session_id,
        [{"id": str(uuid.uuid4()), "event_type": "new"}, {"id": taken, "event_type": "clash"}],
    )

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Conflict",
        "status": 409,
        "detail": f"Event id {taken} is already stored in another session; "
        "give this event a new id.",
    }


def test_event_id_conflict_stores_nothing_of_the_batch(client):
    other_session = new_session(client)
    taken = str(uuid.uuid4())
    [original] = append_events(client, other_session, [{"id": taken, "event_type": "original"}])
    session_id = new_session(client)

    response = post_events(
        client,
        session_id,
        [{"event_type": "new"}, {"id": taken, "event_type": "clash"}, {"event_type": "newer"}],
    )

    assert response.status_code == 409
    assert event_count(client, session_id) == 0
    assert stored_total(client, session_id) == 0
    assert event_count(client, other_session) == 1
    assert stored_events(client, other_session) == [original]


# --- idempotent retries --------------------------------------------------------------------------


def test_retrying_a_batch_returns_the_stored_events_and_stores_nothing(client):
    session_id = new_session(client)
    batch = [
        {"id": str(uuid.uuid4()), "event_type": "a", "event_data": {"n": 1}, "message": "one"},
        {"id": str(uuid.uuid4()), "event_type": "b", "event_data": {"n": 2}, "message": "two"},
    ]
    first = post_events(client, session_id, batch)
    retry = post_events(client, session_id, batch)
    assert first.status_code == 201
    assert retry.status_code == 201
    assert retry.json() == first.json()
    assert [e["seq"] for e in retry.json()["items"]] == [1, 2]
    assert event_count(client, session_id) == 2
    assert stored_total(client, session_id) == 2


def test_retry_returns_the_stored_event_not_the_resent_one(client):
    session_id = new_session(client)
    event_id = str(uuid.uuid4())
    [stored] = append_events(
        client, session_id, [{"id": event_id, "event_type": "a", "message": "old"}]
    )
    [again] = append_events(
        client, session_id, [{"id": event_id, "event_type": "b", "message": "new"}]
    )
    assert again == stored
    assert stored_events(client, session_id) == [stored]


def test_batch_mixing_a_stored_id_and_a_new_event_stores_only_the_new_one(client):
    session_id = new_session(client)
    known = str(uuid.uuid4())
    [stored] = append_events(client, session_id, [{"id": known, "event_type": "a"}])
    items = append_events(
        client,
        session_id,
        [{"id": known, "event_type": "a"}, {"event_type": "b", "message": "new"}],
    )
    assert items[0] == stored
    assert items[1]["seq"] == 2
    assert (items[1]["event_type"], items[1]["message"]) == ("b", "new")
    assert items[1]["timestamp"] > stored["timestamp"]
    assert event_count(client, session_id) == 2
    assert [e["seq"] for e in stored_events(client, session_id)] == [2, 1]


def test_same_new_id_twice_in_one_batch_is_stored_once(client):
    session_id = new_session(client)
    event_id = str(uuid.uuid4())
    items = append_events(
        client,
        session_id,
        [
            {"id": event_id, "event_type": "a"},
            {"id": event_id, "event_type": "a"},
            {"event_type": "b"},
        ],
    )
    assert items[0] == items[1]
    assert (items[0]["id"], items[0]["seq"]) == (event_id, 1)
    assert items[2]["seq"] == 2
    assert event_count(client, session_id) == 2
    assert [e["id"] for e in stored_events(client, session_id)] == [items[2]["id"], event_id]


# --- unknown session -----------------------------------------------------------------------------


def test_unknown_session_is_404(client):
    missing = str(uuid.uuid4())
    response = post_events(client, missing, [{"event_type": "a"}])
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": f"Session not found: {missing}",
    }


# --- round trips ---------------------------------------------------------------------------------


def assert_verbatim(client, event_data: dict) -> None:
    posted, stored = round_trip(client, event_data)
    for returned in (posted["event_data"], stored["event_data"]):
        assert returned == event_data
        assert canonical(returned) == canonical(event_data)


def test_unicode_round_trips(client):
    assert_verbatim(
        client,
        {
            "emoji": "😀👩‍👩‍👧‍👦🏳️‍🌈",
            "cjk": "漢字かなカナ한국어",
            "rtl": "שלום עולם مرحبا",
            "combining": "e\u0301 a\u0308 n\u0303 Z\u0337\u0351",
            "ключ 🔑": "значение",
        },
    )


def test_unicode_message_round_trips(client):
    message = "😀 漢字 שלום مرحبا e\u0301"
    posted, stored = round_trip(client, {}, message=message)
    assert posted["message"] == message
    assert stored["message"] == message


def test_key_order_is_kept(client):
    assert_verbatim(
        client,
        {"zebra": 1, "apple": 2, "mango": {"z": True, "a": False, "m": None}, "banana": [3, 2, 1]},
    )


def test_deep_nesting_round_trips(client):
    document: dict = {"leaf": "bottom"}
    for level in range(200):
        document = {f"level{level}": document}
    assert_verbatim(client, document)


def test_deep_array_nesting_round_trips(client):
    nested: list = ["bottom"]
    for _ in range(199):
        nested = [nested]
    assert_verbatim(client, {"nested": nested})


def test_100_kb_string_payload_round_trips(client):
    assert_verbatim(client, {"blob": "x" * 100_000 + "é漢😀"})


def test_100_kb_message_round_trips(client):
    message = "y" * 100_000 + "é漢😀"
    posted, stored = round_trip(client, {}, message=message)
    assert posted["message"] == message
    assert stored["message"] == message


def test_nul_in_event_data_strings_and_keys_round_trips(client):
    assert_verbatim(client, {"nul\u0000key": "value\u0000with\u0000nuls", "plain": "\u0000"})


def test_integers_beyond_64_bits_round_trip(client):
    assert_verbatim(client, {"big": 2**80, "negative": -(2**80), "max64": 2**64 - 1})


def test_floats_round_trip(client):
    assert_verbatim(client, {"half": 0.5, "pi": 3.141592653589793, "tiny": 1e-300, "neg": -2.5e10})


def test_null_true_false_round_trip(client):
    assert_verbatim(
        client, {"null": None, "true": True, "false": False, "list": [None, True, False]}
    )


def test_empty_containers_round_trip(client):
    assert_verbatim(client, {"object": {}, "array": [], "string": ""})


def test_omitted_event_data_defaults_to_an_empty_object(client):
    session_id = new_session(client)
    [posted] = append_events(client, session_id, [{"event_type": "a"}])
    assert posted["event_data"] == {}
    assert stored_events(client, session_id)[0]["event_data"] == {}


def test_message_null_round_trips(client):
    posted, stored = round_trip(client, {"k": "v"}, message=None)
    assert posted["message"] is None
    assert stored["message"] is None


def test_omitted_message_and_step_id_are_null(client):
    session_id = new_session(client)
    [posted] = append_events(client, session_id, [{"event_type": "a"}])
    assert (posted["message"], posted["step_id"]) == (None, None)
    [stored] = stored_events(client, session_id)
    assert (stored["message"], stored["step_id"]) == (None, None)
