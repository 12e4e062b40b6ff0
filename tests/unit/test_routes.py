"""session_events/routes.py: operation labels and allowed methods, read from the contract."""

from __future__ import annotations

import yaml

from session_events.contract import SPEC, load_contract
from session_events.db.sessions import NEXT_STATUSES, TERMINAL
from session_events.routes import Routes

SESSION = "/api/v2/sessions/6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"


def test_spec_is_the_contract_file():
    assert SPEC.parts[-2:] == ("openapi", "events-api.yaml")


def test_templates_map_every_operation_to_method_and_path():
    handlers = "session_events.handlers"
    assert Routes().templates == {
        f"{handlers}.sessions.create_session": "POST /api/v2/sessions",
        f"{handlers}.sessions.list_sessions": "GET /api/v2/sessions",
        f"{handlers}.sessions.get_session": "GET /api/v2/sessions/{session_id}",
        f"{handlers}.events.list_events": "GET /api/v2/sessions/{session_id}/events",
        f"{handlers}.events.append_events": "POST /api/v2/sessions/{session_id}/events",
        f"{handlers}.sessions.update_session": "PATCH /api/v2/sessions/{session_id}",
        f"{handlers}.sessions.delete_session": "DELETE /api/v2/sessions/{session_id}",
        f"{handlers}.stream.stream_events": "GET /api/v2/sessions/{session_id}/events/stream",
        f"{handlers}.sessions_stream.stream_sessions": "GET /api/v2/sessions/stream",
        f"{handlers}.summary.get_summary": "GET /api/v2/sessions/{session_id}/summary",
        f"{handlers}.tokens.create_token": "POST /api/v2/sessions/{session_id}/tokens",
        f"{handlers}.tokens.revoke_tokens": "DELETE /api/v2/sessions/{session_id}/tokens",
        f"{handlers}.tokens.revoke_token": (
            "DELETE /api/v2/sessions/{session_id}/tokens/{token_id}"
        ),
    }


def test_templates_cover_every_operation_id_of_the_contract():
    spec = yaml.safe_load(SPEC.read_text())
    operation_ids = {
        operation["operationId"]
        for item in spec["paths"].values()
        for key, operation in item.items()
        if key != "parameters"
    }
    assert set(Routes().templates) == operation_ids


def test_templates_of_a_given_contract():
    spec = yaml.safe_load(
        "servers: [{url: /v9}]\n"
        "paths:\n"
        "  /things/{thing_id}:\n"
        "    delete: {operationId: things.remove}\n"
        "    put: {operationId: things.replace}\n"
    )
    routes = Routes(spec)
    assert routes.templates == {
        "things.remove": "DELETE /v9/things/{thing_id}",
        "things.replace": "PUT /v9/things/{thing_id}",
    }
    assert routes.allowed_methods("/v9/things/7") == ["DELETE", "PUT"]


def test_sessions_allow_get_head_and_post():
    assert Routes().allowed_methods("/api/v2/sessions") == ["GET", "HEAD", "POST"]


def test_one_session_allows_get_and_head():
    assert Routes().allowed_methods(SESSION) == ["DELETE", "GET", "HEAD", "PATCH"]


def test_events_allow_get_head_and_post():
    assert Routes().allowed_methods(SESSION + "/events") == ["GET", "HEAD", "POST"]


def test_any_path_segment_matches_a_template_parameter():
    assert Routes().allowed_methods("/api/v2/sessions/not-a-uuid/events") == [
        "GET",
        "HEAD",
        "POST",
    ]


def test_unknown_path_allows_nothing():
    assert Routes().allowed_methods("/api/v2/nothing") == []


def test_path_without_the_base_allows_nothing():
    assert Routes().allowed_methods("/sessions") == []


def test_path_with_an_extra_segment_allows_nothing():
    assert Routes().allowed_methods(SESSION + "/events/1") == []


def test_path_with_an_empty_parameter_allows_nothing():
    assert Routes().allowed_methods("/api/v2/sessions//events") == []


def test_path_with_a_trailing_slash_allows_nothing():
    assert Routes().allowed_methods("/api/v2/sessions/") == []


def test_the_life_of_a_session_is_the_contracts_in_its_words_and_in_its_x_next_statuses():
    """update_session's description lists each status's next ones in words, for people; the
    server reads x-next-statuses: they say the same."""
    contract = load_contract()
    described = contract["paths"]["/sessions/{session_id}"]["patch"]["description"]
    for status, following in NEXT_STATUSES.items():
        if following:
            words = ", ".join(f"`{s}`" for s in following[:-1]) + f" or `{following[-1]}`"
            assert f"* `{status}` -> {words}" in described
    terminal = ", ".join(f"`{s}`" for s in TERMINAL[:-1]) + f" and `{TERMINAL[-1]}` are terminal"
    assert terminal in described
    assert set(NEXT_STATUSES) == set(contract["components"]["schemas"]["SessionStatus"]["enum"])


def test_a_literal_path_is_not_a_value_of_a_template_parameter():
    routes = Routes()
    assert routes.allowed_methods("/api/v2/sessions/stream") == ["GET", "HEAD"]
    assert routes.literal["/api/v2/sessions"] == ["GET", "HEAD", "POST"]
    assert not any("{" in path for path in routes.literal)
