"""session_events/query_strings.py: query and path text typed by the parameter's schema, the
one reading both Connexion's stack and the fast route use."""

from __future__ import annotations

import pytest

from session_events.query_strings import ExplodedFormURIParser, resolve_query, resolve_value, typed

INTEGER = {"type": "integer"}
EVENT_TYPES = {
    "name": "event_type",
    "in": "query",
    "style": "form",
    "explode": True,
    "schema": {"type": "array", "items": {"type": "string"}},
}
PER_PAGE = {"name": "per_page", "in": "query", "schema": {"type": "integer"}}


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("42", 42), ("-5", -5), ("007", 7)])
def test_decimal_text_is_an_integer(text, value):
    assert typed(text, INTEGER) == value


@pytest.mark.parametrize("text", ["1_0", " 5", "5 ", "+5", "1.0", "٣", "", "abc", "9" * 5000])
def test_other_text_stays_text_for_the_validator_to_refuse(text):
    assert typed(text, INTEGER) == text


@pytest.mark.parametrize(("text", "value"), [("true", True), ("False", False), ("TRUE", True)])
def test_booleans(text, value):
    assert typed(text, {"type": "boolean"}) is value


@pytest.mark.parametrize("text", ["0", "1", "yes", ""])
def test_other_boolean_text_stays_text(text):
    assert typed(text, {"type": "boolean"}) == text


def test_numbers_are_finite_json_numbers():
    assert typed("2.5e3", {"type": "number"}) == 2500.0
    for text in ("inf", "nan", "1e400", "1_0", ".5"):
        assert typed(text, {"type": "number"}) == text


def test_strings_are_kept_as_sent():
    assert typed("2026-01-01T00:00:00Z", {"type": "string"}) == "2026-01-01T00:00:00Z"


def test_a_repeated_plain_parameter_is_its_last_value():
    assert resolve_value(["1", "2"], PER_PAGE, "query") == 2


def test_an_exploded_form_array_keeps_each_value_whole():
    assert resolve_value(["a,b", "c"], EVENT_TYPES, "query") == ["a,b", "c"]


def test_a_non_exploded_array_splits_its_last_value():
    parameter = {**EVENT_TYPES, "explode": False}
    assert resolve_value(["x", "a,b"], parameter, "query") == ["a", "b"]


def test_a_path_array_is_split_on_commas():
    parameter = {"name": "ids", "in": "path", "schema": {"type": "array", "items": INTEGER}}
    assert resolve_value(["1,2,x"], parameter, "path") == [1, 2, "x"]


def test_unknown_names_keep_their_values_for_strict_validation():
    query = resolve_query({"per_page": ["3"], "nope": ["1", "2"]}, {"per_page": PER_PAGE})
    assert query == {"per_page": 3, "nope": ["1", "2"]}


def test_connexions_parser_reads_by_the_same_rules():
    path_parameter = {"name": "session_id", "in": "path", "schema": {"type": "string"}}
    parser = ExplodedFormURIParser([EVENT_TYPES, PER_PAGE, path_parameter], {})
    assert parser.resolve_query({"event_type": ["a,b"], "per_page": ["1_0"]}) == {
        "event_type": ["a,b"],
        "per_page": "1_0",
    }
    assert parser.resolve_path({"session_id": "s"}) == {"session_id": "s"}
