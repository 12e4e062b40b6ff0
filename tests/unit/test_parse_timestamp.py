"""db/documents.parse_timestamp's one rule over datetime.fromisoformat: the RFC 3339 liberties
fromisoformat refuses are spelled its way first; what it still cannot read is a ValueError with a
sentence (a 400 for since), never anything else."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from session_events.db.documents import parse_timestamp


@pytest.mark.parametrize(
    ("text", "instant"),
    [
        ("2026-01-13t14:30:00z", datetime(2026, 1, 13, 14, 30, tzinfo=UTC)),
        ("2016-12-31T23:59:60+01:00", datetime(2016, 12, 31, 22, 59, 59, 999999, tzinfo=UTC)),
        ("0000-12-31T23:00:00-05:00", datetime(1, 1, 1, 4, tzinfo=UTC)),
    ],
)
def test_what_fromisoformat_refuses_but_rfc_3339_allows_is_read(text, instant):
    assert parse_timestamp(text) == instant


@pytest.mark.parametrize("text", ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z"])
def test_a_date_time_that_cannot_be_read_is_a_value_error_with_a_sentence(text):
    with pytest.raises(ValueError, match=f"^{text} is not a date-time this service can read"):
        parse_timestamp(text)
