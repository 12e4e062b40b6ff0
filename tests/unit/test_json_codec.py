"""The one JSON number rule: refused beyond a double's range, kept exact within it."""

from __future__ import annotations

import json

import orjson
import pytest

from session_events.db import json_codec

# Numbers at the edge of a double's range, as JSON text, and whether the rule accepts them.
EDGES = [
    ("1e308", True),
    ("1.7976931348623157e308", True),
    ("1.7976931348623158e308", True),  # rounds to the largest double
    ("1.7976931348623159e308", False),
    ("1.8e308", False),
    ("-1.8e308", False),
    ("1e400", False),
    ("1" + "0" * 308, True),
    ("1" + "0" * 309, False),
    ("-" + "1" + "0" * 400, False),
    ("1e-400", True),  # underflows to 0.0, which is finite
    (str(2**63), True),
    (str(2**64), True),
    (str(-(2**70)), True),
]


@pytest.mark.parametrize(("number", "accepted"), EDGES)
def test_requests_and_responses_accept_the_same_numbers(number, accepted):
    text = '{"a": [1, {"b": ' + number + "}]}"
    if accepted:
        json_codec.loads(text)
        json_codec.loads_response(text.encode())
    else:
        with pytest.raises(json_codec.OutOfRange):
            json_codec.loads(text)
        with pytest.raises(orjson.JSONDecodeError):
            json_codec.loads_response(text.encode())


def test_an_out_of_range_number_is_named_by_its_place():
    with pytest.raises(json_codec.OutOfRange) as refused:
        json_codec.loads('{"events": [{"n": 1}, {"event_data": {"x": [0, 1e400]}}]}')
    assert refused.value.path == "events[1].event_data.x[1]"
    assert refused.value.text == "1e400"


def test_the_first_of_several_is_named_and_long_numbers_are_cut():
    big = "9" * 400
    with pytest.raises(json_codec.OutOfRange) as refused:
        json_codec.loads('{"a": ' + big + ', "b": 1e999}')
    assert refused.value.path == "a"
    assert refused.value.text == "9" * 37 + "..."


def test_a_number_on_its_own_is_the_document():
    with pytest.raises(json_codec.OutOfRange) as refused:
        json_codec.loads("-1e400")
    assert refused.value.path == ""


def test_integers_beyond_64_bits_are_kept_exact_both_ways():
    document = {"id": 2**70, "neg": -(2**64) - 1, "small": 2**63 - 1}
    text = json_codec.dumps(document)
    assert json_codec.loads(text.decode()) == document
    assert text == json.dumps(document, separators=(",", ":")).encode()


def test_constants_that_are_not_json_are_refused():
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(ValueError):
            json_codec.loads('{"a": ' + constant + "}")


def test_dumps_keeps_unicode_and_escapes_line_breaks():
    assert json_codec.dumps({"m": "é\nx"}) == '{"m":"é\\nx"}'.encode()
    assert json_codec.dumps_text({"big": 2**65, "m": "é"}) == f'{{"big":{2**65},"m":"é"}}'


def test_integers_beyond_64_bits_beside_fragments_are_written_as_sent():
    document = {"items": orjson.Fragment(b'[{"n":1}]'), "page": 10**40, "deep": [[{"x": -(2**64)}]]}
    assert json_codec.dumps(document) == (
        b'{"items":[{"n":1}],"page":%d,"deep":[[{"x":%d}]]}' % (10**40, -(2**64))
    )
    assert document["page"] == 10**40  # the caller's document is left as it was


def test_a_document_nested_as_deeply_as_loads_allows_can_be_written_back():
    text = "[" * 900 + str(2**70) + "]" * 900
    assert json_codec.dumps(json_codec.loads(text)) == text.encode()


def test_a_response_can_be_read_with_exact_integers():
    body = b'{"page":%d}' % 10**40
    assert json_codec.loads_response(body)["page"] == float(10**40)
    assert json_codec.loads_exact(body)["page"] == 10**40
