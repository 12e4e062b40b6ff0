"""The fast route's check of a response against the contract, as Connexion's response
validation middleware checks it (its order and its messages): the media type must be one the
operation produces (below 400), the headers the status requires must be there, and a body whose
media type has a validator in the validator map must match its schema (contract_checks)."""

from __future__ import annotations

from typing import NamedTuple

from connexion.datastructures import MediaTypeDict
from connexion.exceptions import NonConformingResponseHeaders
from connexion.utils import is_nullable, split_content_type

from session_events import contract_checks
from session_events.contract_checks import BoundedMemo
from session_events.line_checks import LineChecks


class _Expected(NamedTuple):
    """What the contract expects of the responses of one status and Content-Type."""

    required_headers: frozenset[bytes]  # lower-case names
    definition: dict
    schema: dict | None  # None: the body is not checked (no validator for its media type)
    nullable: bool
    lines: bool  # the body is NDJSON: each line is checked as it streams, never held whole


class ResponseChecks:
    """One operation's responses (its `responses` object, references resolved)."""

    def __init__(self, responses: dict, validators: MediaTypeDict):
        self.responses = responses
        # Connexion's list, duplicates and order included: its error message shows it.
        self.produces = [t for r in responses.values() for t in r.get("content", {})]
        self.produced = MediaTypeDict([(t.lower(), None) for t in self.produces])
        self.validators = validators
        # (status, Content-Type value) -> _Expected; derived once per pair, except an error,
        # raised every time.
        self.expected = BoundedMemo(self._expect)

    def _expect(self, key: tuple[int, bytes | None]) -> _Expected:
        status, content_type = key
        mime_type = None
        if content_type is not None:
            mime_type, _ = split_content_type(content_type.decode("latin-1"))
        if mime_type is None:
            mime_type = self.produces[0] if self.produces else "application/octet-stream"
        if status < 400 and self.produces and mime_type.lower() not in self.produced:
            raise NonConformingResponseHeaders(
                detail=f"Invalid Response Content-type ({mime_type}), expected {self.produces}"
            )
        definition = self.responses.get(str(status), self.responses.get("default", {}))
        required = frozenset(
            name.lower().encode("latin-1")
            for name, header in definition.get("headers", {}).items()
            if header.get("required", False)
        )
        schema, lines = None, False
        if mime_type in self.validators:
            lines = getattr(self.validators[mime_type], "checks_lines", False)
            content = definition.get("content", definition)
            content = content.get(mime_type, content)
            schema = content.get("schema", {}) if "schema" in content else {}
        return _Expected(required, definition, schema, is_nullable(definition), lines)

    def check_start(self, status: int, headers) -> _Expected:
        content_type = None
        for name, value in headers:
            if name == b"content-type":
                content_type = value
                break
        expected = self.expected[status, content_type]
        if expected.required_headers and not expected.required_headers <= {n for n, _ in headers}:
            wanted = {
                k.lower()
                for k, v in expected.definition.get("headers", {}).items()
                if v.get("required", False)
            }
            present = {name.decode("latin-1").lower() for name, _ in headers}
            raise NonConformingResponseHeaders(
                detail="Keys in response header don't match response specification. "
                f"Difference: {', '.join(wanted - present)}"
            )
        return expected

    @staticmethod
    def check_body(expected: _Expected, body: bytes) -> None:
        if expected.schema is None:
            return
        if expected.lines:
            lines = LineChecks(expected.schema)
            lines.feed(body)
            return lines.end()
        value = contract_checks.parse_response_body(body)
        if not (value is None and expected.nullable):
            contract_checks.check_response_body(expected.schema, value, body)

    def check(self, status: int, headers, body: bytes) -> None:
        """A response whose body is at hand, checked before anything of it is sent."""
        self.check_body(self.check_start(status, headers), body)

    def checked_send(self, send):
        """A streamed response's start checked as it goes out; its body held and checked only
        if its media type has a validator (NDJSON line by line, as it goes out)."""
        held: list[dict] = []
        expected: _Expected | None = None
        lines: LineChecks | None = None

        async def checked_send(message) -> None:
            nonlocal expected, lines
            if message["type"] == "http.response.start":
                expected = self.check_start(message["status"], message.get("headers", []))
                if expected.lines:
                    lines = LineChecks(expected.schema)
            if lines is not None and message["type"] == "http.response.body":
                lines.feed(message.get("body", b""))
                if not message.get("more_body", False):
                    lines.end()
            if expected is None or expected.schema is None or lines is not None:
                return await send(message)
            held.append(message)
            if message["type"] == "http.response.start" or message.get("more_body", False):
                return None
            self.check_body(expected, b"".join(m.get("body", b"") for m in held[1:]))
            while held:
                await send(held.pop(0))
            return None

        return checked_send
