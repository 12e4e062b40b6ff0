"""An NDJSON response body (the events export) checked against the contract line by line as it
streams, for both ways a request is dispatched (session_events/validators.py and
session_events/response_checks.py): each line is one document of the response's schema. Only a
line cut between two chunks is kept, so a body of any size is checked in constant memory; a
line that does not conform raises before it is sent, so a client never receives it."""

from __future__ import annotations

from session_events.contract_checks import check_response_body, parse_response_body


class LineChecks:
    def __init__(self, schema: dict):
        self.schema = schema
        self.rest = b""  # the start of a line whose end is in a later chunk

    def feed(self, chunk: bytes) -> None:
        """Check the lines `chunk` completes."""
        *lines, self.rest = (self.rest + chunk).split(b"\n")
        for line in lines:
            self.check(line)

    def end(self) -> None:
        """The body is complete: a last line without its newline is checked too."""
        if self.rest:
            self.check(self.rest)
            self.rest = b""

    def check(self, line: bytes) -> None:
        check_response_body(self.schema, parse_response_body(line), line)
