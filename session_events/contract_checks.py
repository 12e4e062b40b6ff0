"""The checks of the contract that a request and its response go through, written once for both
ways a request is dispatched (Connexion's stack through session_events/validators.py, and
session_events/fast_route.py): parameters, the request body, the response body. Every rule comes
from the schema or parameter list being checked; failures are Connexion's problem exceptions
with a sentence naming what is wrong."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from connexion.exceptions import (
    BadRequestProblem,
    NonConformingResponseBody,
    UnsupportedMediaTypeProblem,
)
from starlette.datastructures import Headers

from session_events.db import json_codec
from session_events.schemas import first_error
from session_events.sentences import describe
from session_events.tokens import without_tokens

NO_BODY = "This operation needs a JSON request body; the request has none."
NO_CONTENT_TYPE = (
    "The request body has no Content-Type; send it with Content-Type: application/json."
)
CUT_SHORT = "The request body ended before its announced end; nothing was executed."
NULL_BODY = "The request body must be a JSON object, not null."
NOT_UTF8 = "The request body must be JSON encoded as UTF-8."
TOO_DEEP = (
    f"The request body nests objects and arrays more than {json_codec.MAX_DEPTH} levels deep; "
    "send event_data and config less deeply nested."
)
LONE_SURROGATE = (
    "The request body holds an unpaired UTF-16 surrogate escape such as \\ud800; "
    "send text as valid Unicode."
)
_PATH_KEYS = {"query": str, "path": lambda name: name.replace("-", "_")}


class ParameterChecks:
    """One operation's parameters: unknown query names (strict validation), then each parameter
    by location (query, path, header, cookie) in the contract's order; the first error wins."""

    def __init__(self, parameters: list[dict], *, strict: bool, security_query_params=()):
        by_location: dict[str, list[dict]] = {}
        for parameter in parameters:
            by_location.setdefault(parameter["in"], []).append(parameter)
        query = by_location.get("query", [])
        self.strict = strict
        self.accepted_query = {p["name"] for p in query} | set(security_query_params)
        self.accepted_text = ", ".join(p["name"] for p in query) or "no query parameters"
        # (location, [(the key its value is found under, the parameter, its schema)])
        self.lookups = [
            (
                location,
                [
                    (_PATH_KEYS.get(location, str)(p["name"]), p, p.get("schema", p))
                    for p in by_location[location]
                ],
            )
            for location in ("query", "path", "header", "cookie")
            if by_location.get(location)
        ]

    def check(self, query: Mapping, path: Mapping, headers: Mapping, cookies=None) -> None:
        """Raise BadRequestProblem for the first parameter that breaks the contract; `query`
        and `path` hold values already typed (query_strings.resolve_query)."""
        if self.strict:
            unknown = query.keys() - self.accepted_query
            if unknown:
                raise BadRequestProblem(
                    detail="Unknown query parameter(s): "
                    f"{without_tokens(', '.join(sorted(unknown)))}. "
                    f"This operation accepts: {self.accepted_text}."
                )
        sources = {"query": query, "path": path, "header": headers, "cookie": cookies or {}}
        for location, parameters in self.lookups:
            values = sources[location]
            for key, parameter, schema in parameters:
                value = values.get(key)
                if value is None:
                    if parameter.get("required"):
                        raise BadRequestProblem(
                            detail=f"The {location} parameter {parameter['name']} is required."
                        )
                    continue
                error = first_error(schema, value)
                if error:
                    raise BadRequestProblem(detail=describe(error, parameter["name"], schema))


def has_body(headers: Headers) -> bool:
    """Whether the request says it has a body: a Content-Length above 0, or chunks."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return True
    return headers.get("content-length", "0") not in ("0", "")


def check_body_sent(headers: Headers, required: bool) -> bool:
    """Whether there is a body to read: a required body missing is a 400, a body without a
    Content-Type a 415 (it is not taken to be JSON)."""
    if not has_body(headers):
        if required:
            raise BadRequestProblem(detail=NO_BODY)
        return False
    if "content-type" not in headers:
        raise UnsupportedMediaTypeProblem(detail=NO_CONTENT_TYPE)
    return True


FORM = "application/x-www-form-urlencoded"


def unsupported_media_type(sent: str, consumes: list[str]) -> UnsupportedMediaTypeProblem:
    if not sent.strip():  # `Content-Type:` with nothing in it
        return UnsupportedMediaTypeProblem(detail=NO_CONTENT_TYPE)
    wanted = " or ".join(consumes)
    # What `curl -d` sends unless told otherwise: say how to tell it.
    curl = f" (curl: -H 'Content-Type: {consumes[0]}')" if sent == FORM else ""
    return UnsupportedMediaTypeProblem(
        detail=f"The request body is sent as {sent}; send it with Content-Type: {wanted}{curl}."
    )


async def read_messages(receive: Callable) -> list[dict]:
    """The request's body messages, all of them (with Content-Length or chunked alike).

    session_events/whole_request.py hands the app only whole bodies; should a body still end in
    the client leaving, the request is refused rather than run on what arrived.
    """
    messages = []
    more_body = True
    while more_body:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequestProblem(detail=CUT_SHORT)
        messages.append(message)
        more_body = message.get("more_body", False)
    return messages


def body_value(messages: list[dict], schema: dict, *, required: bool, nullable: bool) -> Any:
    """The request body the messages hold, parsed and checked against the operation's schema:
    for the fast route and Connexion's validator alike. An empty body (chunked, with no chunk)
    is no body."""
    raw = b"".join(m.get("body", b"") for m in messages)
    if not raw and required:
        raise BadRequestProblem(detail=NO_BODY)
    body = parse_json_body(raw)
    if not (body is None and nullable):
        check_body(schema, body)
    return body


def replay(messages: list[dict], receive: Callable) -> Callable:
    """A receive channel giving `messages` again, then what `receive` gives."""
    pending = iter(messages)

    async def receive_again():
        return next(pending, None) or await receive()

    return receive_again


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string (or key) in a parsed document is not encodable as UTF-8.

    Iterative, so that a document nested as deeply as the parser allows cannot exhaust the stack.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


def parse_json_body(body: bytes) -> Any:
    """A request body by the service's JSON rules (db/json_codec.py): UTF-8 only, no NaN or
    Infinity, no number beyond a double's range (the detail names its field), and no unpaired
    surrogate escape (text that cannot be stored or sent back as UTF-8). None for no body."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequestProblem(detail=NOT_UTF8) from None
    if not text:
        return None
    try:
        value = json_codec.loads(text)
    except RecursionError:
        raise BadRequestProblem(detail=TOO_DEEP) from None
    except json_codec.OutOfRange as error:
        where = error.path or "The request body"
        raise BadRequestProblem(
            detail=f"{where} holds a number beyond the range of a double ({error.text}); "
            "send it as a string."
        ) from None
    except ValueError as error:  # json.JSONDecodeError, and the constants NaN and Infinity
        raise BadRequestProblem(detail=f"The request body is not valid JSON: {error}.") from None
    if isinstance(value, dict | list) and json_codec.deeper_than(json_codec.MAX_DEPTH, text, value):
        raise BadRequestProblem(detail=TOO_DEEP)
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise BadRequestProblem(detail=LONE_SURROGATE)
    return value


def check_body(schema: dict, value: Any) -> None:
    if value is None:
        raise BadRequestProblem(detail=NULL_BODY)
    error = first_error(schema, value)
    if error:
        raise BadRequestProblem(detail=describe(error, "", schema))


def parse_response_body(body: bytes) -> Any:
    """A body the service produced, read back by json_codec's rule for it; None for no body."""
    if not body:
        return None
    try:
        return json_codec.loads_response(body)
    except ValueError as error:
        raise NonConformingResponseBody(
            detail=f"Response body does not conform to specification. It is not JSON: {error}."
        ) from None


def check_response_body(schema: dict, value: Any, body: bytes | None = None) -> None:
    """`value` as parse_response_body read `body`; a body whose reading fails is read again with
    exact integers before it is refused (orjson reads those beyond 64 bits as doubles)."""
    error = first_error(schema, value)
    if error and body:
        error = first_error(schema, json_codec.loads_exact(body))
    if error:
        raise NonConformingResponseBody(
            detail="Response body does not conform to specification. " + describe(error, "", schema)
        )


class BoundedMemo(dict):
    """What `compute` gave for each key asked for, remembered up to `limit` keys (those beyond
    are computed each time): for lookups repeated on every request, whose keys requests choose.
    An error of `compute` is raised, not remembered."""

    def __init__(self, compute, limit: int = 64):
        super().__init__()
        self.compute = compute
        self.limit = limit

    def __missing__(self, key):
        value = self.compute(key)
        if len(self) < self.limit:
            self[key] = value
        return value
