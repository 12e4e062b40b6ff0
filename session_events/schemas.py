"""The contract's schemas as compiled validators: OpenAPI 3.0 translated to JSON Schema draft 4,
compiled once per distinct schema with jsonschema-rs, for Connexion's validators and the fast
route alike."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs

from session_events.db.json_codec import dumps

# OpenAPI keywords that JSON Schema draft 4 does not have and that do not constrain values.
_ANNOTATIONS = ("nullable", "example", "discriminator", "xml", "externalDocs", "deprecated")

# format: uuid, the hyphenated form only (as in the contract's examples), checked as this pattern
# by the compiled validator itself: a Python format callback is far slower.
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def to_json_schema(schema: Any) -> Any:
    """An OpenAPI 3.0 schema (references already resolved) as JSON Schema draft 4."""
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
        size = len(dumps(instance))
        if size > self.limit:
            raise ValueError(f"is {size} bytes as JSON, more than the {self.limit} allowed")


KEYWORDS = {"x-max-bytes": MaxBytes}

# id(schema) -> (schema, validator): Connexion hands the same schema object to every request of
# an operation; the schema is kept so that its id cannot be reused by another object.
_by_identity: dict[int, tuple[dict, Any]] = {}
# The translated schema as canonical text -> validator: one per distinct schema, whichever
# copy of the contract (Connexion's or the fast route's) it was found in.
_by_content: dict[str, Any] = {}


def compiled(schema: dict):
    """The compiled validator of a schema of the loaded contract, built on first use.

    "No schema" (a 304, a 204), which Connexion gives as a new {} every time, shares one
    validator instead of filling the cache one request at a time.
    """
    if not schema:
        return _ANYTHING
    entry = _by_identity.get(id(schema))
    if entry is None:
        entry = _by_identity[id(schema)] = (schema, _shared(schema))
    return entry[1]


def _shared(schema: dict):
    draft4 = draft4_schema(schema)
    keywords = keywords_for(schema)
    key = json.dumps([draft4, keywords is not None], sort_keys=True)
    validator = _by_content.get(key)
    if validator is None:
        validator = _by_content[key] = _compile(draft4, keywords)
    return validator


def _compile(draft4: dict, keywords: dict | None):
    return jsonschema_rs.Draft4Validator(draft4, validate_formats=True, keywords=keywords)


def draft4_schema(schema: dict) -> dict:
    """to_json_schema of a schema without the components Connexion attaches to it: all of the
    contract's, its responses included, where a response's schema can be the very object they
    are attached to (a cycle no validator can load). If a reference is left (a recursive
    schema), the components' schemas are kept for it."""
    own = _own(schema)
    result = to_json_schema(own)
    if "components" in schema and _mentions(own, {"$ref": None}):
        schemas = schema["components"].get("schemas", {})
        result["components"] = {
            "schemas": {name: to_json_schema(value) for name, value in schemas.items()}
        }
    return result


def keywords_for(schema: dict) -> dict | None:
    """The custom keywords a validator of this schema needs: none unless the schema may use one
    (a validator built with them is slower, and no response schema has one). A reference left
    in the schema could lead to one among the attached components."""
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


_ANYTHING = _compile({}, None)


def first_error(schema: dict, value: Any) -> jsonschema_rs.ValidationError | None:
    validator = compiled(schema)
    if validator.is_valid(value):  # the common case, without building an error iterator
        return None
    return next(iter(validator.iter_errors(value)), None)
