"""Query and path values read as OpenAPI says, and typed by their parameter's schema.

An exploded form array (`event_type=a&event_type=b`) is its repeated values, each kept whole:
Connexion's stock parser joins them with commas and splits them again, so `event_type=a,b` would
become two types although the contract's pattern refuses a comma. A value that is not of its
schema's type is left as the text sent, for the validator to say what it must be. Connexion's
stack (through ExplodedFormURIParser) and the fast route both read query strings with
`resolve_query`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from connexion.uri_parsing import OpenAPIURIParser

# Plain decimal text only: int() and float() also take "1_0", " 5", "٣" and "inf".
_INTEGER = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_BOOLEANS = {"true": True, "false": False}
_DELIMITERS = {"form": ",", "simple": ",", "spaceDelimited": " ", "pipeDelimited": "|"}
_DEFAULT_STYLES = {"query": "form", "path": "simple"}


def typed(text: str, schema: Mapping[str, Any]) -> Any:
    """`text` as the type `schema` names, or `text` itself if it is not one."""
    kind = schema.get("type")
    if kind == "integer" and _INTEGER.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # more digits than int() converts
            return text
    if kind == "number" and _NUMBER.fullmatch(text):
        number = float(text)
        return number if math.isfinite(number) else text
    if kind == "boolean":
        return _BOOLEANS.get(text.lower(), text)
    return text


def resolve_value(values: list[str], parameter: Mapping[str, Any], location: str) -> Any:
    """The value of a parameter sent `values` (in order): the last one, or for an array its
    items (the repeated values of an exploded form, else the last value split), each typed."""
    schema = parameter.get("schema", {})
    if schema.get("type") != "array":
        return typed(values[-1], schema)
    style = parameter.get("style", _DEFAULT_STYLES[location])
    if style == "form" and parameter.get("explode", True):
        items = values
    else:
        items = values[-1].split(_DELIMITERS.get(style, ","))
    item_schema = schema.get("items", {})
    return [typed(item, item_schema) for item in items]


def resolve_query(
    query: Mapping[str, list[str]], definitions: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Each query name's values resolved by its definition; a name the operation does not define
    keeps its list of values (strict validation refuses it)."""
    resolved: dict[str, Any] = {}
    for name, values in query.items():
        definition = definitions.get(name)
        resolved[name] = (
            values if definition is None else resolve_value(values, definition, "query")
        )
    return resolved


class ExplodedFormURIParser(OpenAPIURIParser):
    """Connexion's URI parser (its public resolve_query and resolve_path) reading by the rules
    above; the contract has no deepObject parameter, the one style they leave out."""

    def resolve_query(self, query_data):
        definitions = self.param_defns
        query = {name: d for name, d in definitions.items() if d["in"] == "query"}
        return resolve_query(query_data, query)

    def resolve_path(self, path_data):
        definitions = self.param_defns
        return {
            name: value
            if name not in definitions or definitions[name]["in"] != "path"
            else resolve_value([value], definitions[name], "path")
            for name, value in path_data.items()
        }
