"""session_events/prune.py: reading --older-than and --status."""

from __future__ import annotations

from datetime import timedelta

import pytest

from session_events.prune import parse_age, parse_statuses


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("90min", timedelta(minutes=90)),
        ("90 MIN", timedelta(minutes=90)),
        ("3600s", timedelta(seconds=3600)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_ages_read_as_a_number_and_a_unit(text, age):
    assert parse_age(text) == age


@pytest.mark.parametrize("text", ["30", "d", "1.5d", "30 days", "-1d", "", "2mo", "1y"])
def test_other_ages_are_refused_with_the_expected_form(text):
    with pytest.raises(ValueError, match="a number and a unit"):
        parse_age(text)


@pytest.mark.parametrize("text", ["6m", "6 M"])
def test_a_bare_m_is_refused_as_ambiguous_saying_what_to_write(text):
    with pytest.raises(ValueError, match=r"ambiguous: write 6min for minutes.*\(180d, 26w\)"):
        parse_age(text)


def test_statuses_are_finished_ones_without_repeats():
    assert parse_statuses("failed, completed,failed") == ("failed", "completed")


@pytest.mark.parametrize("text", ["pending", "completed,paused", "", " , "])
def test_unfinished_or_no_statuses_are_refused(text):
    with pytest.raises(ValueError, match="finished statuses only"):
        parse_statuses(text)
