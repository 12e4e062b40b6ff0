"""session_events/revocations.py on each database: what a process remembers of the tokens it
was shown stays bounded, whatever it was shown."""

from __future__ import annotations

import uuid

import pytest

from session_events.revocations import Revocations
from session_events.tokens import READ, Grant, TokenRefused, expiry


async def test_tokens_found_revoked_are_not_remembered(database):
    """A process shown token after revoked token (never stored, or revoked, or of a deleted
    session) keeps nothing of them: only good and watched tokens are worth remembering."""
    revocations = Revocations(database)
    for _ in range(50):
        grant = Grant(READ, uuid.uuid4(), uuid.uuid4(), expiry(60))
        with pytest.raises(TokenRefused):
            await revocations.check(grant)
    assert revocations._sessions == {}
    assert revocations._good == {}
