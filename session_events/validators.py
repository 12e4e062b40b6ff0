"""Connexion's validators, plugged in through its `validator_map`, applying the checks of
session_events/contract_checks.py: compiled schemas and sentences instead of a jsonschema
validator built per request and its repr of the failure."""

from __future__ import annotations

from connexion.datastructures import MediaTypeDict
from connexion.validators import (
    AbstractRequestBodyValidator,
    AbstractResponseBodyValidator,
    ParameterValidator,
)
from starlette.datastructures import Headers

from session_events import contract_checks
from session_events.contract_checks import BoundedMemo
from session_events.line_checks import LineChecks


class ContractParameterValidator(ParameterValidator):
    """Query, path, header and cookie parameters, by ParameterChecks."""

    def __init__(self, parameters, uri_parser, strict_validation=False, security_query_params=None):
        super().__init__(parameters, uri_parser, strict_validation, security_query_params)
        self.checks = contract_checks.ParameterChecks(
            parameters,
            strict=strict_validation,
            security_query_params=self.security_query_params,
        )

    def validate_request(self, request):
        self.checks.check(
            request.query_params, request.path_params, request.headers, request.cookies
        )


class ContractBodyValidator(AbstractRequestBodyValidator):
    """JSON request bodies: strict parsing, compiled validation, sentences naming the field.

    Reads the body itself, so that a chunked body (no Content-Length) is read too, and replays it
    to the handler unchanged.
    """

    def __init__(self, *, schema: dict, required: bool = False, nullable: bool = False, **kwargs):
        super().__init__(schema=schema, required=required, nullable=nullable, **kwargs)
        self.schema = schema
        self.required = required
        self.nullable = nullable

    async def wrap_receive(self, receive, *, scope):
        if not contract_checks.check_body_sent(Headers(scope=scope), self.required):
            return receive, scope
        messages = await contract_checks.read_messages(receive)
        contract_checks.body_value(
            messages, self.schema, required=self.required, nullable=self.nullable
        )
        return contract_checks.replay(messages, receive), scope


class ContractResponseValidator(AbstractResponseBodyValidator):
    """Responses are checked against the contract too; a mismatch is a 500 and is logged."""

    def __init__(self, scope, *, schema: dict, nullable: bool = False, encoding: str):
        super().__init__(scope, schema=schema, nullable=nullable, encoding=encoding)
        self.schema = schema

    # The documented hooks of a custom response validator: how a body is parsed, how checked.
    def _parse(self, stream):
        self.body = b"".join(stream)  # a validator checks one response
        return contract_checks.parse_response_body(self.body)

    def _validate(self, body):
        contract_checks.check_response_body(self.schema, body, self.body)


class ContractLinesValidator(AbstractResponseBodyValidator):
    """NDJSON responses (the events export), each line checked as it passes, never held whole:
    the documented interface, with its `wrap_send` streaming instead of collecting the body."""

    checks_lines = True  # the fast route's ResponseChecks streams such bodies the same way

    def __init__(self, scope, *, schema: dict, nullable: bool = False, encoding: str):
        super().__init__(scope, schema=schema, nullable=nullable, encoding=encoding)
        self.schema = schema

    def wrap_send(self, send):
        checks = LineChecks(self.schema)

        async def checked_send(message) -> None:
            if message["type"] == "http.response.body":
                checks.feed(message.get("body", b""))
                if not message.get("more_body", False):
                    checks.end()
            await send(message)

        return checked_send


class RememberedMediaTypes(MediaTypeDict):
    """Connexion's MediaTypeDict, remembering what each media type it was asked for matched: the
    lookup sorts the keys and runs fnmatch against each, on every request and every response.
    Only matches are remembered, and only so many (clients choose the Content-Type)."""

    LIMIT = 64

    def __init__(self, *args):
        super().__init__(*args)
        self.matched = BoundedMemo(lambda item: MediaTypeDict.__getitem__(self, item), self.LIMIT)

    def __getitem__(self, item):
        return self.matched[item]


VALIDATOR_MAP = {
    "parameter": ContractParameterValidator,
    "body": RememberedMediaTypes({"*/*json": ContractBodyValidator}),
    # The most specific media type is chosen: NDJSON is not read as one JSON document.
    "response": RememberedMediaTypes(
        {"*/*json": ContractResponseValidator, "application/x-ndjson": ContractLinesValidator}
    ),
}
