"""The client's statuses come from the generated models: the contract names them once."""

from __future__ import annotations

from session_events_client import SessionStatus, cli
from session_events_client.operations import TERMINAL

from session_events.db import sessions as server_sessions


def test_the_terminal_statuses_are_members_of_the_generated_enum():
    assert all(isinstance(status, SessionStatus) for status in TERMINAL)
    assert set(server_sessions.TERMINAL) == TERMINAL  # the statuses the server ends streams on


def test_the_command_takes_its_statuses_and_exit_codes_from_them():
    assert [status.value for status in SessionStatus] == cli.STATUSES
    assert set(cli.WAIT_EXIT) == TERMINAL
    assert cli.WAIT_EXIT[SessionStatus.completed] == 0
    assert all(isinstance(status, SessionStatus) for status in cli.WAIT_EXIT)
