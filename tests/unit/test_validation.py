"""The contract's checks: schema translation and compiled validators (session_events/schemas.py),
sentences (sentences.py), strict JSON bodies (contract_checks.py), media types (validators.py)."""

from __future__ import annotations

import pytest
from connexion.exceptions import BadRequestProblem

from session_events import schemas
from session_events.contract_checks import parse_json_body
from session_events.schemas import compiled, first_error, to_json_schema
from session_events.sentences import describe
from session_events.validators import RememberedMediaTypes

UUID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"

EVENT_BATCH = {
    "type": "object",
    "additionalProperties": False,
    "required": ["events"],
    "properties": {
        "events": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["event_type"],
                "properties": {
                    "event_type": {"type": "string", "pattern": "^[a-z_]+$", "maxLength": 100},
                    "message": {"type": "string", "nullable": True},
                    "step_id": {"type": "string", "format": "uuid", "nullable": True},
                },
            },
        }
    },
}


def sentence(schema, value, name=""):
    error = first_error(schema, value)
    assert error is not None, f"{value!r} unexpectedly valid"
    return describe(error, name, schema)


def bad_request(body: bytes) -> str:
    with pytest.raises(BadRequestProblem) as caught:
        parse_json_body(body)
    return caught.value.detail


# ---------------------------------------------------------------------------------------------
# to_json_schema


def test_nullable_with_type_adds_null_to_the_type():
    assert to_json_schema({"type": "string", "nullable": True}) == {"type": ["string", "null"]}


def test_nullable_with_enum_adds_null_to_the_enum():
    schema = {"type": "string", "enum": ["a", "b"], "nullable": True}
    assert to_json_schema(schema) == {"type": ["string", "null"], "enum": ["a", "b", None]}


def test_nullable_without_type_becomes_any_of_null():
    assert to_json_schema({"enum": ["a"], "nullable": True}) == {
        "anyOf": [{"type": "null"}, {"enum": ["a"]}]
    }


def test_nullable_false_changes_nothing_but_is_dropped():
    assert to_json_schema({"type": "string", "nullable": False}) == {"type": "string"}


def test_annotations_are_dropped():
    schema = {
        "type": "integer",
        "example": 3,
        "deprecated": True,
        "xml": {"name": "n"},
        "externalDocs": {"url": "https://example.org"},
        "discriminator": {"propertyName": "kind"},
    }
    assert to_json_schema(schema) == {"type": "integer"}


def test_constraints_and_descriptions_are_kept():
    schema = {"type": "integer", "minimum": 1, "description": "d", "default": 1}
    assert to_json_schema(schema) == schema


def test_nested_properties_and_items_are_translated():
    schema = {
        "type": "object",
        "properties": {
            "tags": {
                "type": "array",
                "items": {"type": "string", "nullable": True, "example": "x"},
            },
            "note": {"type": "string", "nullable": True},
        },
    }
    assert to_json_schema(schema) == {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": ["string", "null"]}},
            "note": {"type": ["string", "null"]},
        },
    }


def test_combinators_and_additional_properties_are_translated():
    schema = {
        "allOf": [{"type": "string", "nullable": True}],
        "additionalProperties": {"type": "integer", "example": 1},
    }
    assert to_json_schema(schema) == {
        "allOf": [{"type": ["string", "null"]}],
        "additionalProperties": {"type": "integer"},
    }


def test_a_property_named_like_an_annotation_is_kept():
    schema = {"type": "object", "properties": {"example": {"type": "string"}}}
    assert to_json_schema(schema) == schema


def test_to_json_schema_does_not_change_its_argument():
    schema = {"type": "string", "nullable": True, "example": "x"}
    to_json_schema(schema)
    assert schema == {"type": "string", "nullable": True, "example": "x"}


def test_compiled_validator_accepts_null_for_a_nullable_field():
    schema = {"type": "string", "nullable": True}
    assert first_error(schema, None) is None


# ---------------------------------------------------------------------------------------------
# compiled


def test_compiled_is_cached_per_schema_object():
    schema = {"type": "integer"}
    assert compiled(schema) is compiled(schema)


def test_equal_but_distinct_schema_objects_share_one_validator():
    """Connexion's copy of the contract and the fast route's hold equal schemas: one validator."""
    assert compiled({"type": "integer", "minimum": 3}) is compiled(
        {"type": "integer", "minimum": 3}
    )
    assert compiled({"type": "integer", "minimum": 3}) is not compiled({"type": "integer"})


def test_compiled_validator_checks_formats():
    assert not compiled({"type": "string", "format": "uuid"}).is_valid("not-a-uuid")


LIMITED = {"type": "object", "x-max-bytes": 10}
TOO_BIG = {"data": {"text": "longer than ten bytes"}}


def test_a_custom_keyword_in_the_schema_is_checked():
    schema = {"type": "object", "properties": {"data": LIMITED}}
    assert schemas.keywords_for(schema) is schemas.KEYWORDS
    assert not compiled(schema).is_valid(TOO_BIG)
    assert compiled(schema).is_valid({"data": {"a": 1}})


def test_a_custom_keyword_behind_a_reference_is_checked():
    schema = {
        "type": "object",
        "properties": {"data": {"$ref": "#/components/schemas/Limited"}},
        "components": {"schemas": {"Limited": LIMITED}},
    }
    assert schemas.keywords_for(schema) is schemas.KEYWORDS
    assert not compiled(schema).is_valid(TOO_BIG)


def test_custom_keywords_only_in_the_attached_components_are_left_out():
    schema = {
        "type": "object",
        "properties": {"data": {"type": "object"}},
        "components": {"schemas": {"Limited": LIMITED}},
    }
    assert schemas.keywords_for(schema) is None
    assert compiled(schema).is_valid(TOO_BIG)


def test_a_schema_inside_the_components_attached_to_it_compiles():
    """Connexion attaches every component, responses included, to a response's schema, which
    can be one of them: a cycle, once a "Recursion limit reached" and a 500 for a 404."""
    schema = {"type": "object", "required": ["status"]}
    schema["components"] = {"responses": {"Problem": {"content": {"schema": schema}}}}
    assert first_error(schema, {}) is not None
    assert first_error(schema, {"status": 404}) is None


def test_a_reference_left_is_resolved_among_the_translated_component_schemas():
    schema = {
        "type": "object",
        "properties": {"step": {"$ref": "#/components/schemas/Step"}},
        "components": {"schemas": {"Step": {"type": "string", "nullable": True}}},
    }
    assert first_error(schema, {"step": None}) is None
    assert first_error(schema, {"step": 1}) is not None


def test_first_error_is_none_for_a_valid_value():
    assert first_error(EVENT_BATCH, {"events": [{"event_type": "started"}]}) is None


# ---------------------------------------------------------------------------------------------
# describe: sentences for parameters


def test_type_sentence():
    assert sentence({"type": "integer"}, "x", "page") == 'page must be an integer (got "x").'


def test_boolean_type_sentence():
    assert sentence({"type": "boolean"}, 1, "flag") == "flag must be true or false (got 1)."


def test_nullable_type_sentence_lists_both_types():
    schema = {"type": "string", "nullable": True}
    assert sentence(schema, 3, "message") == "message must be null or a string (got 3)."


def test_date_time_format_sentence():
    assert sentence({"type": "string", "format": "date-time"}, "2026-01-13T14:30:00", "since") == (
        "since must be an RFC 3339 date-time with an offset, such as 2026-01-13T14:30:00Z "
        '(got "2026-01-13T14:30:00").'
    )


def test_uuid_format_sentence():
    assert sentence({"type": "string", "format": "uuid"}, "abc", "session_id") == (
        f'session_id must be a UUID, such as {UUID} (got "abc").'
    )


def test_minimum_sentence():
    assert sentence({"type": "integer", "minimum": 1}, 0, "page") == (
        "page must be at least 1 (got 0)."
    )


def test_maximum_sentence():
    assert sentence({"type": "integer", "maximum": 100}, 101, "per_page") == (
        "per_page must be at most 100 (got 101)."
    )


def test_min_length_sentence():
    assert sentence({"type": "string", "minLength": 2}, "a", "name") == (
        'name must be at least 2 characters long (got "a").'
    )


def test_max_length_sentence():
    assert sentence({"type": "string", "maxLength": 3}, "abcd", "name") == (
        'name must be at most 3 characters long (got "abcd").'
    )


def test_pattern_sentence():
    assert sentence({"type": "string", "pattern": "^[a-z_]+$"}, "Bad", "event_type") == (
        'event_type must match the pattern ^[a-z_]+$ (got "Bad").'
    )


def test_enum_sentence_lists_the_options_as_json():
    assert sentence({"type": "string", "enum": ["pending", "failed"]}, "done", "status") == (
        'status must be one of "pending", "failed" (got "done").'
    )


def test_nullable_enum_sentence_lists_null():
    schema = {"type": "string", "enum": ["a", "b"], "nullable": True}
    assert sentence(schema, "c", "status") == 'status must be one of "a", "b", null (got "c").'


def test_a_long_value_is_cut_to_sixty_characters():
    got = sentence({"type": "integer"}, "x" * 100, "page")
    assert got == 'page must be an integer (got "' + "x" * 56 + "...)."


def test_non_ascii_value_is_shown_as_is():
    assert sentence({"type": "integer"}, "é", "page") == 'page must be an integer (got "é").'


# ---------------------------------------------------------------------------------------------
# describe: sentences for bodies


def test_body_root_is_called_the_request_body():
    assert sentence({"type": "object"}, [], "") == (
        "The request body must be a JSON object (got [])."
    )


def test_required_field_sentence():
    assert sentence(EVENT_BATCH, {}, "") == (
        "The request body is missing the required field 'events'."
    )


def test_additional_properties_sentence_names_the_unknown_field():
    assert sentence(EVENT_BATCH, {"events": [{"event_type": "a"}], "zz": 1}, "") == (
        "The request body has unknown field(s) 'zz'; the fields allowed are events."
    )


def test_additional_properties_sentence_lists_allowed_fields_sorted():
    schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"zeta": {}, "alpha": {}, "mid": {}},
    }
    assert sentence(schema, {"other": 1}, "") == (
        "The request body has unknown field(s) 'other'; the fields allowed are alpha, mid, zeta."
    )


def test_additional_properties_sentence_in_a_nested_object():
    body = {"events": [{"event_type": "a", "zz": 1, "aa": 2}]}
    assert sentence(EVENT_BATCH, body, "") == (
        "events[0] has unknown field(s) 'zz', 'aa'; "
        "the fields allowed are event_type, message, step_id."
    )


def test_additional_properties_sentence_when_no_field_is_allowed():
    schema = {"type": "object", "additionalProperties": False, "properties": {}}
    assert sentence(schema, {"z": 1}, "") == (
        "The request body has unknown field(s) 'z'; the fields allowed are none."
    )


def test_min_items_sentence_singular():
    assert sentence(EVENT_BATCH, {"events": []}, "") == (
        "events must hold at least 1 item (got [])."
    )


def test_min_items_sentence_plural():
    assert sentence({"type": "array", "minItems": 2}, [1], "") == (
        "The request body must hold at least 2 items (got [1])."
    )


def test_max_items_sentence_singular():
    assert sentence({"type": "array", "maxItems": 1}, [1, 2], "") == (
        "The request body must hold at most 1 item (got [1, 2])."
    )


def test_max_items_sentence_plural():
    body = {"events": [{"event_type": "a"}] * 4}
    assert sentence(EVENT_BATCH, body, "").startswith("events must hold at most 3 items (got [")


def test_body_field_path_names_the_array_index():
    body = {"events": [{"event_type": "ok"}, {"event_type": "Bad"}]}
    assert sentence(EVENT_BATCH, body, "") == (
        'events[1].event_type must match the pattern ^[a-z_]+$ (got "Bad").'
    )


def test_body_field_path_of_a_nested_format_error():
    body = {"events": [{"event_type": "a", "step_id": "nope"}]}
    assert sentence(EVENT_BATCH, body, "") == (
        f'events[0].step_id must be a UUID, such as {UUID} (got "nope").'
    )


def test_required_field_inside_an_array_item():
    assert sentence(EVENT_BATCH, {"events": [{}]}, "") == (
        "events[0] is missing the required field 'event_type'."
    )


def test_parameter_name_prefixes_a_path_inside_the_value():
    schema = {"type": "array", "items": {"type": "integer"}}
    assert sentence(schema, [1, "x"], "ids") == 'ids[1] must be an integer (got "x").'


def test_other_keywords_fall_back_to_the_validator_message():
    got = sentence({"multipleOf": 2}, 5, "n")
    assert got.startswith("n is invalid: ")
    assert got.endswith(".")


def test_a_value_refused_by_not_is_named_with_the_reason_the_contract_gives():
    schema = {"not": {"enum": ["auth_expired"], "description": "it is reserved"}}
    assert sentence(schema, "auth_expired", "t") == 't may not be "auth_expired": it is reserved.'
    assert sentence({"not": {"type": "integer"}}, 5, "n") == "n may not be 5."


# ---------------------------------------------------------------------------------------------
# format: uuid

UUID_SCHEMA = {"type": "string", "format": "uuid"}


def test_uuid_format_accepts_the_hyphenated_form():
    assert compiled(UUID_SCHEMA).is_valid(UUID)


def test_uuid_format_accepts_upper_case():
    assert compiled(UUID_SCHEMA).is_valid(UUID.upper())


def test_uuid_format_keeps_its_own_pattern_and_nullable():
    schema = {"type": "string", "format": "uuid", "pattern": "^6f", "nullable": True}
    assert compiled(schema).is_valid(UUID)
    assert compiled(schema).is_valid(None)
    assert not compiled(schema).is_valid("7" + UUID[1:])
    assert not compiled(schema).is_valid("6f1c")


@pytest.mark.parametrize(
    "value",
    [
        "6f1c2a3b4d5e4f608a7b9c0d1e2f3a4b",
        "{6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b}",
        "urn:uuid:6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b\n",
        " 6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4",
        "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4bb",
        "gf1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b",
        "6f1c2a3b4-d5e-4f60-8a7b-9c0d1e2f3a4b",
        "",
    ],
)
def test_uuid_format_refuses_other_forms(value):
    assert not compiled(UUID_SCHEMA).is_valid(value)


def test_compiled_uuid_format_refuses_the_unhyphenated_form():
    schema = {"type": "string", "format": "uuid"}
    assert first_error(schema, "6f1c2a3b4d5e4f608a7b9c0d1e2f3a4b") is not None


# ---------------------------------------------------------------------------------------------
# parse_json_body


def test_valid_json_is_parsed():
    assert parse_json_body(b'{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}


def test_empty_body_is_none():
    assert parse_json_body(b"") is None


def test_key_order_is_kept():
    assert list(parse_json_body(b'{"b": 1, "a": 2}')) == ["b", "a"]


def test_non_utf8_body_is_refused():
    assert bad_request(b'{"a": "\xff"}') == "The request body must be JSON encoded as UTF-8."


def test_utf16_body_is_refused():
    assert bad_request('{"a": 1}'.encode("utf-16")) == (
        "The request body must be JSON encoded as UTF-8."
    )


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_constants_are_refused(constant):
    assert bad_request(f'{{"a": {constant}}}'.encode()) == (
        f"The request body is not valid JSON: {constant} is not a JSON value."
    )


def test_a_number_too_large_for_a_double_is_refused_naming_its_field():
    assert bad_request(b'{"events": [{"event_data": {"n": 1e400}}]}') == (
        "events[0].event_data.n holds a number beyond the range of a double (1e400); "
        "send it as a string."
    )


def test_an_integer_too_large_for_a_double_is_refused_naming_its_field():
    assert bad_request(b'{"config": {"big": 1' + b"0" * 400 + b"}}").startswith(
        "config.big holds a number beyond the range of a double (1000000000"
    )


def test_a_negative_number_too_large_for_a_double_is_refused():
    assert bad_request(b"-1e400") == (
        "The request body holds a number beyond the range of a double (-1e400); "
        "send it as a string."
    )


def test_a_tiny_number_is_accepted():
    assert parse_json_body(b"1e-400") == 0.0


def test_big_integers_are_kept_exact():
    value = parse_json_body(str(2**80).encode())
    assert value == 2**80
    assert type(value) is int


def test_a_lone_surrogate_escape_is_refused():
    assert bad_request(b'{"a": "\\ud800"}') == (
        "The request body holds an unpaired UTF-16 surrogate escape such as \\ud800; "
        "send text as valid Unicode."
    )


def test_a_lone_low_surrogate_escape_in_a_key_is_refused():
    assert bad_request(b'{"\\uDC00": 1}').startswith(
        "The request body holds an unpaired UTF-16 surrogate escape"
    )


def test_a_surrogate_pair_escape_is_accepted():
    assert parse_json_body(b'"\\ud83d\\ude00"') == "\U0001f600"


def test_an_escaped_backslash_before_u_d800_is_plain_text():
    assert parse_json_body(b'"\\\\ud800"') == "\\ud800"


def nested(depth: int, inner: bytes = b"0") -> bytes:
    """Objects and arrays alternating, `depth` of them, around `inner`."""
    opens = b"".join(b'{"a":' if n % 2 else b"[" for n in range(depth))
    closes = b"".join(b"}" if n % 2 else b"]" for n in reversed(range(depth)))
    return opens + inner + closes


@pytest.mark.parametrize("depth", [513, 1_000, 100_000])
def test_nesting_beyond_the_limit_is_refused_naming_it(depth):
    assert bad_request(nested(depth)) == (
        "The request body nests objects and arrays more than 512 levels deep; "
        "send event_data and config less deeply nested."
    )


def test_nesting_at_the_limit_is_accepted():
    value = parse_json_body(nested(512, b'"\\ud83d\\ude00"'))
    for depth in range(512):
        value = value["a"] if depth % 2 else value[0]
    assert value == "\U0001f600"


def test_many_shallow_containers_are_not_deep():
    body = b"[" + b",".join([b'{"a": [1, {"b": 2}]}'] * 500) + b"]"
    assert len(parse_json_body(body)) == 500


def test_a_byte_order_mark_is_refused():
    assert bad_request(b'\xef\xbb\xbf{"a": 1}').startswith(
        "The request body is not valid JSON: Unexpected UTF-8 BOM"
    )


def test_invalid_json_detail_names_the_problem():
    detail = bad_request(b'{"a": }')
    assert detail.startswith("The request body is not valid JSON: Expecting value")
    assert detail.endswith(".")


def test_whitespace_only_body_is_invalid_json():
    assert bad_request(b"   ").startswith("The request body is not valid JSON")


def test_trailing_data_is_invalid_json():
    assert bad_request(b"{} {}").startswith("The request body is not valid JSON: Extra data")


def test_no_schema_shares_one_validator_instead_of_growing_the_cache():
    # Connexion gives a 304 or 204 response a new {} as its schema on every request.
    cached = len(schemas._by_identity)
    validators = {id(compiled({})) for _ in range(50)}
    assert len(validators) == 1
    assert len(schemas._by_identity) == cached
    assert compiled({}).is_valid({"anything": [1, "x"]})


def test_media_types_are_matched_as_connexion_does_and_remembered_within_a_limit():
    types = RememberedMediaTypes({"*/*json": "json", "text/*": "text"})
    assert types["application/json"] == "json"
    assert types["application/problem+json"] == "json"
    assert types["text/plain"] == "text"
    assert "application/xml" not in types
    assert types.get("image/png") is None
    assert set(types.matched) == {"application/json", "application/problem+json", "text/plain"}
    for n in range(RememberedMediaTypes.LIMIT * 2):
        assert types[f"application/x-{n}+json"] == "json"
    assert len(types.matched) == RememberedMediaTypes.LIMIT
