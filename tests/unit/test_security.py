"""session_events/security.py: which access an X-API-Key value grants, and the contract's
functions that grant it."""

from __future__ import annotations

import string

import pytest
from connexion.exceptions import ProblemException, Unauthorized

from session_events import app_state as state
from session_events.app_state import AppState
from session_events.security import (
    READ,
    READ_ONLY_KEY,
    UNKNOWN_KEY,
    WRITE,
    KeyRing,
    read_access,
    write_access,
)


def test_access_names_are_read_and_write():
    assert (READ, WRITE) == ("read", "write")


def test_a_write_key_grants_write():
    assert KeyRing(read_keys=["r"], write_keys=["w"]).access("w") == "write"


def test_a_read_key_grants_read():
    assert KeyRing(read_keys=["r"], write_keys=["w"]).access("r") == "read"


def test_an_unknown_key_grants_nothing():
    assert KeyRing(read_keys=["r"], write_keys=["w"]).access("x") is None


def test_a_prefix_of_a_key_grants_nothing():
    assert KeyRing(read_keys=["secret-read"], write_keys=[]).access("secret") is None


def test_a_key_differing_in_case_grants_nothing():
    assert KeyRing(read_keys=["Key"], write_keys=[]).access("key") is None


def test_an_empty_key_grants_nothing():
    assert KeyRing(read_keys=["r"], write_keys=["w"]).access("") is None


def test_an_empty_ring_grants_nothing():
    assert KeyRing(read_keys=[], write_keys=[]).access("anything") is None


def test_each_of_several_keys_is_recognised():
    ring = KeyRing(read_keys=["r1", "r2"], write_keys=["w1", "w2"])
    assert [ring.access(k) for k in ("r1", "r2", "w1", "w2")] == [
        "read",
        "read",
        "write",
        "write",
    ]


def test_a_key_in_both_lists_grants_write():
    assert KeyRing(read_keys=["both"], write_keys=["both"]).access("both") == "write"


def test_keys_from_frozensets_as_settings_hold_them():
    ring = KeyRing(read_keys=frozenset({"r"}), write_keys=frozenset({"w"}))
    assert (ring.access("r"), ring.access("w")) == ("read", "write")


def test_a_non_ascii_header_value_grants_nothing_without_raising():
    assert KeyRing(read_keys=["r"], write_keys=["w"]).access("é") is None


def test_a_latin1_header_value_grants_nothing_without_raising():
    assert KeyRing(read_keys=["r"], write_keys=["w"]).access("ÿÿÿ") is None


def test_a_lone_surrogate_header_value_grants_nothing_without_raising():
    assert KeyRing(read_keys=["r"], write_keys=["w"]).access("\udcff") is None


def test_a_non_ascii_key_matches_its_utf8_bytes_as_a_header_carries_them():
    # Starlette hands header values over decoded as Latin-1.
    header_value = "clé".encode().decode("latin-1")
    assert KeyRing(read_keys=["clé"], write_keys=[]).access(header_value) == "read"


def test_generated_key_is_long_enough():
    assert len(KeyRing.generated_key()) >= 32


def test_generated_key_is_url_safe():
    allowed = set(string.ascii_letters + string.digits + "-_")
    assert set(KeyRing.generated_key()) <= allowed


def test_generated_keys_are_random():
    keys = {KeyRing.generated_key() for _ in range(20)}
    assert len(keys) == 20


def _as_current_request(keyring: KeyRing):
    """read_access and write_access read the key ring of the app answering the request."""
    app_state = AppState(
        database=None,
        notifier=None,
        hubs=None,
        events_appended=None,
        stream_heartbeat_seconds=1.0,
        sessions_hub=None,
        session_tombstone_seconds=60.0,
        keyring=keyring,
        token_signer=None,
        revocations=None,
        token_ttl_seconds=3600,
    )
    return state.enter({"state": {state.STATE_KEY: app_state}}, None)


def test_read_and_write_access_grant_what_the_key_ring_says():
    token = _as_current_request(KeyRing(read_keys=["r"], write_keys=["w"]))
    try:
        assert read_access("r") == {"sub": READ}
        assert read_access("w") == {"sub": WRITE}
        assert write_access("w") == {"sub": WRITE}
        with pytest.raises(ProblemException) as refused:
            write_access("r")
        assert (refused.value.status, refused.value.detail) == (403, READ_ONLY_KEY)
        for check in (read_access, write_access):
            with pytest.raises(Unauthorized) as unknown:
                check("x")
            assert unknown.value.detail == UNKNOWN_KEY
    finally:
        state.leave(token)


def test_a_key_ring_says_where_its_keys_are_in_the_401_for_an_unknown_key():
    token = _as_current_request(KeyRing(["r"], ["w"], where="they are in .data/"))
    try:
        with pytest.raises(Unauthorized) as unknown:
            read_access("x")
        assert unknown.value.detail == "The X-API-Key sent is not a known key; they are in .data/."
    finally:
        state.leave(token)
