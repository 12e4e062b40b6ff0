"""Connexion validators that compile each schema of the contract once and explain failures plainly.

Connexion's own validators build a new jsonschema validator for every request and response and
answer with jsonschema's repr of the failure. These subclasses keep Connexion's flow and its
problem+json errors, but validate with a jsonschema-rs validator compiled once per schema (OpenAPI
3.0's `nullable` translated to JSON Schema first) and phrase each failure as a sentence naming the
parameter or body field. They are plugged in through Connexion's `validator_map`; nothing here
restates a rule of the contract, every rule comes from the schema being checked.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import jsonschema_rs
import orjson
from connexion.datastructures import MediaTypeDict
from connexion.exceptions import BadRequestProblem, NonConformingResponseBody
from connexion.validators import (
    JSONRequestBodyValidator,
    JSONResponseBodyValidator,
    ParameterValidator,
)
from starlette.datastructures import Headers

FORMAT_PHRASES = {
    "date-time": "an RFC 3339 date-time with an offset, such as 2026-01-13T14:30:00Z",
    "uuid": "a UUID, such as 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
}
TYPE_PHRASES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "object": "a JSON object",
    "array": "a JSON array",
    "null": "null",
}
JSON_MEDIA_TYPE = "application/json"
# OpenAPI keywords that JSON Schema draft 4 does not have and that do not constrain values.
_ANNOTATIONS = ("nullable", "example", "discriminator", "xml", "externalDocs", "deprecated")


# format: uuid, the hyphenated form only (as in the contract's examples), checked as this pattern
# by the compiled validator itself: a Python format callback cost a third of the time of
# validating a page of events.
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def to_json_schema(schema: Any) -> Any:
    """An OpenAPI 3.0 schema (refs already resolved by Connexion) as JSON Schema draft 4."""
    if isinstance(schema, list):
        return [to_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    result = {}
    for key, value in schema.items():
        if key in _ANNOTATIONS:
            continue
        if key in ("properties", "patternProperties", "definitions"):
            result[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            result[key] = to_json_schema(value)
        else:
            result[key] = value
    if result.get("format") == "uuid":
        del result["format"]
        uuid = {"pattern": UUID_PATTERN}
        result = {**result, **uuid} if "pattern" not in result else {"allOf": [result, uuid]}
    if schema.get("nullable"):
        if "type" in result:
            result["type"] = [result["type"], "null"]
            if "enum" in result:
                result["enum"] = [*result["enum"], None]
        else:
            result = {"anyOf": [{"type": "null"}, result]}
    return result


class MaxBytes:
    """`x-max-bytes`: the value's size as compact UTF-8 JSON, at most this many bytes.

    A limit JSON Schema has no keyword for; the contract puts it on event_data.
    """

    def __init__(self, _parent_schema, limit: int, _schema_path):
        self.limit = limit

    def validate(self, instance: Any) -> None:
        size = len(json.dumps(instance, ensure_ascii=False, separators=(",", ":")).encode())
        if size > self.limit:
            raise ValueError(f"is {size} bytes as JSON, more than the {self.limit} allowed")


KEYWORDS = {"x-max-bytes": MaxBytes}
_compiled: dict[int, tuple[dict, Any]] = {}


def compiled(schema: dict):
    """The compiled validator of a schema object of the loaded contract, built on first use.

    Keyed by identity: Connexion hands the same schema object to every request of an operation. The
    schema is kept beside its validator so that its id cannot be reused by another object. The
    one exception is "no schema" (a 304, a 204), which Connexion gives as a new {} every time:
    those share one validator instead of filling the cache one request at a time.
    """
    if not schema:
        return _ANYTHING
    entry = _compiled.get(id(schema))
    if entry is None:
        entry = _compiled[id(schema)] = (schema, _compile(schema))
    return entry[1]


def _compile(schema: dict):
    return jsonschema_rs.Draft4Validator(
        draft4_schema(schema), validate_formats=True, keywords=keywords_for(schema)
    )


def draft4_schema(schema: dict) -> dict:
    """to_json_schema of a schema as Connexion hands it over, without the components it attaches
    to it: all of the contract's, its responses included, where a response's schema can be the
    very object they are attached to (a cycle no validator can load). The references in them are
    resolved already; if one is left (a recursive schema), the components' schemas are kept."""
    own = _own(schema)
    result = to_json_schema(own)
    if "components" in schema and _mentions(own, {"$ref": None}):
        schemas = schema["components"].get("schemas", {})
        result["components"] = {
            "schemas": {name: to_json_schema(value) for name, value in schemas.items()}
        }
    return result


def keywords_for(schema: dict) -> dict | None:
    """The custom keywords a validator of this schema needs: none unless the schema may use one.

    A validator built with them checked a page of events a fifth slower, though no schema of a
    response has one. Connexion attaches the contract's components to every schema, for
    references it has already resolved; a reference left (a recursive schema) could lead there.
    """
    return KEYWORDS if _mentions(_own(schema), {**KEYWORDS, "$ref": None}) else None


def _own(schema: dict) -> dict:
    """The schema without the components Connexion attaches to it."""
    return {key: value for key, value in schema.items() if key != "components"}


def _mentions(schema: Any, keywords: dict) -> bool:
    """Whether any object in the schema has one of these keys."""
    if isinstance(schema, dict):
        return any(key in keywords for key in schema) or any(
            _mentions(value, keywords) for value in schema.values()
        )
    if isinstance(schema, list):
        return any(_mentions(item, keywords) for item in schema)
    return False


_ANYTHING = _compile({})


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_at(schema: dict, path: list) -> dict:
    for step in path:
        schema = schema[step]
    return schema


def describe(error: jsonschema_rs.ValidationError, name: str, schema: dict) -> str:
    """A sentence naming `name` (or the field inside it) and what it must be.

    `name` is a parameter's name, or "" for a body, whose fields are then named by their path.
    """
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.instance_path)
    where = f"{name}{path}" if name else (path.lstrip(".") or "The request body")
    keyword, limit = error.kind.name, error.kind.value
    if keyword == "pattern" and limit == UUID_PATTERN:
        keyword, limit = "format", "uuid"
    if keyword == "type":
        types = [limit] if isinstance(limit, str) else list(limit)
        rule = "must be " + " or ".join(TYPE_PHRASES.get(t, t) for t in types)
    elif keyword == "format":
        rule = "must be " + FORMAT_PHRASES.get(limit, f"a {limit}")
    elif keyword in ("minimum", "maximum"):
        rule = f"must be at {'least' if keyword == 'minimum' else 'most'} {limit}"
    elif keyword in ("minLength", "maxLength"):
        characters = "character" if limit == 1 else "characters"
        rule = (
            f"must be at {'least' if keyword == 'minLength' else 'most'} {limit} {characters} long"
        )
    elif keyword in ("minItems", "maxItems"):
        items = "item" if limit == 1 else "items"
        rule = f"must hold at {'least' if keyword == 'minItems' else 'most'} {limit} {items}"
    elif keyword == "pattern":
        rule = f"must match the pattern {limit}"
    elif keyword == "enum":
        rule = "must be one of " + ", ".join(_shown(option) for option in limit)
    elif keyword == "required":
        return f"{where} is missing the required field {limit!r}."
    elif keyword == "additionalProperties":
        allowed = sorted(_schema_at(schema, error.schema_path[:-1]).get("properties", {}))
        return (
            f"{where} has unknown field(s) {', '.join(map(repr, limit))}; "
            f"the fields allowed are {', '.join(allowed) or 'none'}."
        )
    elif keyword in KEYWORDS:
        return f"{where} {error.message}."
    else:
        return f"{where} is invalid: {error.message}."
    return f"{where} {rule} (got {_shown(error.instance)})."


def first_error(schema: dict, value: Any) -> jsonschema_rs.ValidationError | None:
    validator = compiled(schema)
    if validator.is_valid(value):  # the common case, without building an error iterator
        return None
    return next(iter(validator.iter_errors(value)), None)


class ContractParameterValidator(ParameterValidator):
    """Query, path and header parameters, with sentences instead of jsonschema reprs.

    Connexion's order and lookups (query, path with '-' read as '_', headers, cookies; the first
    error wins), with what it derives from the operation for every request derived once: the
    names strict validation accepts, and per location the key each parameter is looked up by.
    Going through Connexion's per-parameter methods was a tenth of an unchanged poll.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        query = self.parameters.get("query", [])
        self.accepted_query = {p["name"] for p in query} | self.security_query_params
        self.accepted_text = ", ".join(p["name"] for p in query) or "no query parameters"
        # (location, [(the key its value is found under, the parameter)]), locations in use only
        self.lookups = [
            (location, [(key(p["name"]), p) for p in self.parameters[location]])
            for location, key in (
                ("query", str),
                ("path", lambda name: name.replace("-", "_")),
                ("header", str),
                ("cookie", str),
            )
            if self.parameters.get(location)
        ]

    @staticmethod
    def validate_parameter(parameter_type, value, param, param_name=None):
        if value is None:
            if param.get("required"):
                return f"The {parameter_type} parameter {param['name']} is required."
            return None
        schema = param.get("schema", param)
        error = first_error(schema, value)
        return describe(error, param["name"], schema) if error else None

    def validate_request(self, request):
        query = request.query_params
        if self.strict_validation:
            unknown = query.keys() - self.accepted_query
            if unknown:
                raise BadRequestProblem(
                    detail=f"Unknown query parameter(s): {', '.join(sorted(unknown))}. "
                    f"This operation accepts: {self.accepted_text}."
                )
        for location, parameters in self.lookups:
            values = self._values(location, request, query)
            for key, param in parameters:
                error = self.validate_parameter(location, values.get(key), param)
                if error:
                    raise BadRequestProblem(detail=error)

    @staticmethod
    def _values(location: str, request, query):
        if location == "query":
            return query
        if location == "path":
            return request.path_params
        return request.headers if location == "header" else request.cookies


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"the number {text[:40]} is too large")
    return number


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON value")


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string (or key) in a parsed document is not encodable as UTF-8.

    Iterative, so that a document nested as deeply as json.loads allows cannot exhaust the stack.
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
    """Strict JSON: UTF-8 only, no NaN or Infinity, no number too large for a double, and no
    unpaired surrogate escape (text that cannot be stored or sent back as UTF-8)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequestProblem(detail="The request body must be JSON encoded as UTF-8.") from None
    if not text:
        return None
    try:
        value = json.loads(text, parse_float=_finite_float, parse_constant=_reject_constant)
    except RecursionError:
        raise BadRequestProblem(detail="The request body is nested too deeply.") from None
    except ValueError as error:  # JSONDecodeError is a ValueError, so are the checks above
        raise BadRequestProblem(detail=f"The request body is not valid JSON: {error}.") from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise BadRequestProblem(
            detail="The request body holds an unpaired UTF-16 surrogate escape such as \\ud800; "
            "send text as valid Unicode."
        )
    return value


class ContractBodyValidator(JSONRequestBodyValidator):
    """JSON request bodies: strict parsing, compiled validation, sentences naming the field.

    Reads the body itself (Connexion's base class ignores a chunked body without Content-Length)
    and replays it to the handler unchanged. A body without a Content-Type is JSON. What it parsed
    is kept in `parsed`, for a caller that would otherwise parse it again.
    """

    async def wrap_receive(self, receive, *, scope):
        headers = Headers(scope=scope)
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        if headers.get("content-length", "0") in ("0", "") and not chunked:
            if self._required:
                raise BadRequestProblem(
                    detail="This operation needs a JSON request body; the request has none."
                )
            return receive, scope
        messages = []
        more_body = True
        while more_body:
            message = await receive()
            messages.append(message)
            more_body = message.get("more_body", False)
        self.parsed = parse_json_body(b"".join(m.get("body", b"") for m in messages))
        self._validate(self.parsed)
        if "content-type" not in headers:
            # Connexion validates a body sent without a Content-Type as the JSON the operation
            # consumes; the handler must then be given it as JSON too, not as bytes.
            scope = {
                **scope,
                "headers": [*scope["headers"], (b"content-type", JSON_MEDIA_TYPE.encode())],
            }
        return self._insert_messages(receive, messages=messages), scope

    def _validate(self, body):
        if body is None:
            raise BadRequestProblem(detail="The request body must be a JSON object, not null.")
        error = first_error(self._schema, body)
        if error:
            raise BadRequestProblem(detail=describe(error, "", self._schema))


class ContractResponseValidator(JSONResponseBodyValidator):
    """Responses are checked against the contract too; a mismatch is a 500 and is logged."""

    def _parse(self, stream):
        body = b"".join(stream)
        return orjson.loads(body) if body else None

    def _validate(self, body):
        error = first_error(self._schema, body)
        if error:
            raise NonConformingResponseBody(
                detail="Response body does not conform to specification. "
                + describe(error, "", self._schema)
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


class RememberedMediaTypes(MediaTypeDict):
    """Connexion's MediaTypeDict, remembering what each media type it was asked for matched: the
    lookup sorts the keys and runs fnmatch against each, on every request and every response.
    Only matches are remembered, and only so many (clients choose the Content-Type)."""

    LIMIT = 64

    def __init__(self, *args):
        super().__init__(*args)
        self._matched = BoundedMemo(lambda item: MediaTypeDict.__getitem__(self, item), self.LIMIT)

    def __getitem__(self, item):
        return self._matched[item]


VALIDATOR_MAP = {
    "parameter": ContractParameterValidator,
    "body": RememberedMediaTypes({"*/*json": ContractBodyValidator}),
    "response": RememberedMediaTypes({"*/*json": ContractResponseValidator}),
}
