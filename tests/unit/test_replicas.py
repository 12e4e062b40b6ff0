"""Which replica a read goes to, and how far behind one is: the chooser's rules, on replicas
whose checks are told what they found (the live suites run them against a real replica)."""

from __future__ import annotations

import asyncio

import pytest

from session_events.db import positions
from session_events.db.replicas import Replica, Replicas


def replicas(*names: str, max_lag: float = 5.0, wait: float = 0.2) -> Replicas:
    async def primary_position() -> int:
        return 0

    found = [Replica(name, database=None, checks=None) for name in names]
    return Replicas(found, primary_position, max_lag=max_lag, wait=wait)


def in_use(replica: Replica, replayed: int) -> None:
    replica.replayed, replica.lag, replica.error = replayed, 0.0, None


@pytest.mark.parametrize(
    ("text", "number"),
    [("0/0", 0), ("0/16B3748", 0x16B3748), ("16/B374D848", (0x16 << 32) + 0xB374D848)],
)
def test_positions_read_and_spelled_as_postgresql_does(text, number):
    assert positions.parse(text) == number
    assert positions.text_of(number) == text


@pytest.mark.parametrize("text", [None, "", "16", "16/", "/1", "G/1", "1/2/3", "123456789/0"])
def test_a_malformed_position_names_none(text):
    assert positions.parse(text) is None


def test_a_write_keeps_the_highest_position_of_its_request():
    holder = [0]
    token = positions.written.set(holder)
    try:
        for position in (5, 9, 7):
            positions.note_written(position)
    finally:
        positions.written.reset(token)
    assert holder == [9]
    positions.note_written(11)  # outside a request: nobody collects it
    assert holder == [9]


async def test_a_read_goes_to_a_replica_that_has_replayed_its_position():
    chooser = replicas("a", "b")
    a, b = chooser.replicas
    in_use(a, 100)
    in_use(b, 50)
    assert await chooser.choose(80) is a
    assert {await chooser.choose(positions.NONE) for _ in range(4)} == {a, b}  # taking turns
    assert await chooser.choose(positions.PRIMARY) is None


async def test_a_replica_out_of_use_is_never_chosen():
    chooser = replicas("a", wait=0)
    (a,) = chooser.replicas
    in_use(a, 100)
    a.failed(ConnectionRefusedError())
    assert await chooser.choose(positions.NONE) is None
    assert a.status() == {
        "name": "a",
        "in_use": False,
        "lag_seconds": 0.0,
        "error": "unreachable (ConnectionRefusedError)",
    }


async def test_a_read_waits_for_a_replica_to_catch_up_then_takes_it():
    chooser = replicas("a", wait=5)
    (a,) = chooser.replicas
    in_use(a, 10)
    choosing = asyncio.create_task(chooser.choose(20))
    await asyncio.sleep(0.05)
    assert not choosing.done() and chooser.hurry.is_set()  # the checks hurry meanwhile
    a.replayed = 15
    chooser.hand_over()  # what a check does once it has asked the replicas
    await asyncio.sleep(0.05)
    assert not choosing.done()
    a.replayed = 20
    chooser.hand_over()
    assert await choosing is a
    assert chooser.waiting == []


async def test_a_read_that_waits_in_vain_reads_the_primary():
    chooser = replicas("a", wait=0.05)
    (a,) = chooser.replicas
    in_use(a, 10)
    assert await chooser.choose(20) is None
    assert chooser.fallbacks == 1
    assert chooser.waiting == []


def test_lag_is_the_age_of_the_oldest_primary_position_not_replayed():
    chooser = replicas("a", max_lag=5.0)
    for when, position in [(100.0, 10), (101.0, 20), (102.0, 30)]:
        chooser.sample(when, position)
    assert chooser.lag_of(30, 103.0) == 0.0  # replayed all: no lag, however idle the primary
    assert chooser.lag_of(20, 103.0) == pytest.approx(1.0)  # 30 was first seen at 102
    assert chooser.lag_of(5, 103.0) == pytest.approx(3.0)
    chooser.sample(103.0, 30)  # an idle primary adds no sample
    assert len(chooser.samples) == 3


def test_samples_older_than_twice_the_bound_are_dropped():
    chooser = replicas("a", max_lag=1.0)
    for second in range(10):
        chooser.sample(float(second), second + 1)
    assert chooser.samples[0][0] >= 6.0
    assert chooser.lag_of(0, 9.0) > chooser.max_lag  # still over the bound: out of use
