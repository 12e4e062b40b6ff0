"""Every operation of the contract, through a live server on each database, tried with session
tokens that must not reach it: another session's, a narrower scope, expired, forged, revoked,
signed by a secret the server no longer lists. Each is refused with the status and sentence the
issue names, nothing a refused request sent changes anything, and no token ever shows in an
error body or the server's log. A token signed by a retired secret still listed is accepted."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
import pytest
import yaml

from session_events.contract import SPEC
from session_events.tokens import EXPIRED, FORGED, REVOKED
from tests.conftest import WRITE
from tests.live.conftest import SESSIONS

NEW_SECRET = "n" * 40  # signs
RETIRED_SECRET = "r" * 40  # still listed: verifies
UNLISTED_SECRET = "u" * 40  # dropped from the list

H = "session_events.handlers."
# operationId -> method, path (with {session_id}, {token_id}) and a body the contract accepts,
# so that a refusal can only come from the credential.
OPERATIONS = {
    H + "sessions.create_session": ("POST", SESSIONS, {"session_type": "build"}),
    H + "sessions.list_sessions": ("GET", SESSIONS, None),
    H + "sessions_stream.stream_sessions": ("GET", f"{SESSIONS}/stream", None),
    H + "sessions.get_session": ("GET", SESSIONS + "/{session_id}", None),
    H + "sessions.update_session": ("PATCH", SESSIONS + "/{session_id}", {"status": "in_progress"}),
    H + "sessions.delete_session": ("DELETE", SESSIONS + "/{session_id}", None),
    H + "events.list_events": ("GET", SESSIONS + "/{session_id}/events", None),
    H + "events.append_events": (
        "POST",
        SESSIONS + "/{session_id}/events",
        {"events": [{"event_type": "intruder", "message": "must not be stored"}]},
    ),
    H + "stream.stream_events": ("GET", SESSIONS + "/{session_id}/events/stream", None),
    H + "summary.get_summary": ("GET", SESSIONS + "/{session_id}/summary", None),
    H + "tokens.create_token": ("POST", SESSIONS + "/{session_id}/tokens", {"scope": "read"}),
    H + "tokens.revoke_tokens": ("DELETE", SESSIONS + "/{session_id}/tokens", None),
    H + "tokens.revoke_token": ("DELETE", SESSIONS + "/{session_id}/tokens/{token_id}", None),
}


def _reach() -> dict[str, str | None]:
    """operationId -> the token scope that may call it ("read", "append"), None for none."""
    contract = yaml.safe_load(SPEC.read_text())
    reach = {}
    for item in contract["paths"].values():
        for method, operation in item.items():
            if method == "parameters":
                continue
            schemes = {name for requirement in operation.get("security", contract["security"])
                       for name in requirement}  # fmt: skip
            reach[operation["operationId"]] = (
                "read" if "ReadToken" in schemes else "append" if "AppendToken" in schemes else None
            )
    return reach


REACH = _reach()


def test_the_table_names_every_operation_of_the_contract():
    assert set(OPERATIONS) == set(REACH)


@pytest.fixture
def server(live_server):
    return live_server(
        EVENTS_TOKEN_SECRETS=f"{NEW_SECRET},{RETIRED_SECRET}", EVENTS_LOG_LEVEL="info"
    )


def _session(http: httpx.Client, scopes=("append", "read")) -> dict:
    body = {"session_type": "build", "tokens": list(scopes)}
    response = http.post(SESSIONS, json=body, headers=WRITE)
    assert response.status_code == 201, response.text
    created = response.json()
    http.post(
        f"{SESSIONS}/{created['id']}/events",
        json={"events": [{"event_type": "started", "message": "before"}]},
        headers=WRITE,
    )
    return created


def _resigned(token: str, secret: str, **changes) -> str:
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode({**claims, **changes}, secret, algorithm="HS256")


def _altered_payload(token: str, **changes) -> str:
    """The token with its claims changed and its signature kept."""
    head, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False})
    body = base64.urlsafe_b64encode(json.dumps({**claims, **changes}).encode()).rstrip(b"=")
    return f"{head}.{body.decode()}.{signature}"


def _altered_signature(token: str) -> str:
    head, body, signature = token.split(".")
    flipped = "A" if signature[0] != "A" else "B"
    return f"{head}.{body}.{flipped}{signature[1:]}"


def _call(http: httpx.Client, operation: str, session_id: str, token_id: str, token: str):
    method, path, body = OPERATIONS[operation]
    url = path.format(session_id=session_id, token_id=token_id)
    headers = {"Authorization": f"Bearer {token}"}
    # Streams are answered before they start when refused; an accepted one is closed at once.
    with http.stream(method, url, json=body, headers=headers) as response:
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            return response.status_code, ""
        response.read()
        return response.status_code, response.text


def _state(http: httpx.Client) -> dict:
    """Everything a request could have changed, read with a write key."""
    listing = http.get(SESSIONS, params={"per_page": 100}, headers=WRITE).json()
    state = {"sessions": sorted(listing["items"], key=lambda s: s["id"])}
    for session in listing["items"]:
        events = http.get(f"{SESSIONS}/{session['id']}/events", headers=WRITE).json()
        state[session["id"]] = events["items"]
    return state


def _refused(status: int, text: str, expected_status: int, detail: str | None, token: str):
    assert status == expected_status, text
    problem = httpx.Response(status, text=text).json()
    if detail is not None:
        assert problem["detail"] == detail
    assert token not in text


def test_every_operation_refuses_tokens_that_do_not_reach_it(server):
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        own, other = _session(http), _session(http)
        append_token, read_token = (t["token"] for t in own["tokens"])
        spare = http.post(
            f"{SESSIONS}/{own['id']}/tokens", json={"scope": "read"}, headers=WRITE
        ).json()
        revoked = http.post(
            f"{SESSIONS}/{own['id']}/tokens", json={"scope": "append"}, headers=WRITE
        ).json()
        response = http.delete(f"{SESSIONS}/{own['id']}/tokens/{revoked['id']}", headers=WRITE)
        assert response.status_code == 204
        past = int(time.time()) - 60
        bad = {  # token -> (status, detail) on every operation
            _resigned(append_token, NEW_SECRET, exp=past): (401, EXPIRED),
            _altered_signature(append_token): (401, FORGED),
            _altered_payload(read_token, scope="append"): (401, FORGED),
            _resigned(append_token, UNLISTED_SECRET): (401, FORGED),
            revoked["token"]: (401, REVOKED),
        }
        before = _state(http)
        sent = [append_token, read_token, *bad]
        for operation, reach in REACH.items():
            on = {"session_id": own["id"], "token_id": spare["id"]}
            for token, (status, detail) in bad.items():
                _refused(*_call(http, operation, **on, token=token), status, detail, token)
            # Another session's tokens, whatever their scope.
            if "{session_id}" in OPERATIONS[operation][1]:
                for token in (t["token"] for t in other["tokens"]):
                    code, text = _call(http, operation, **on, token=token)
                    _refused(code, text, 403, None, token)
                    assert (
                        f"session {other['id']}" in httpx.Response(403, text=text).json()["detail"]
                    )
            # A scope too narrow for it.
            narrower = {None: (append_token, read_token), "append": (read_token,), "read": ()}
            for token in narrower[reach]:
                code, text = _call(http, operation, **on, token=token)
                _refused(code, text, 403, None, token)
                assert f"session {own['id']}" in httpx.Response(403, text=text).json()["detail"]
        assert _state(http) == before  # nothing a refused request sent was acted on
        # The tokens refusals named are still good: no refused DELETE revoked them.
        for token in (append_token, read_token, spare["token"]):
            headers = {"Authorization": f"Bearer {token}"}
            assert http.get(f"{SESSIONS}/{own['id']}", headers=headers).status_code == 200
        sent += [spare["token"], revoked["token"]]
    output = server.output()
    assert '"route":"GET /api/v2/sessions/{session_id}/events"' in output  # the access log is on
    for token in sent:
        assert token not in output
        assert token.split(".")[2] not in output  # nor its signature alone


def test_a_token_signed_by_a_retired_secret_still_listed_is_accepted(server):
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        own = _session(http)
        append_token = own["tokens"][0]["token"]
        retired = _resigned(append_token, RETIRED_SECRET)
        on = {"session_id": own["id"], "token_id": own["tokens"][1]["id"]}
        for operation, reach in REACH.items():
            if reach is None:
                continue
            status, text = _call(http, operation, **on, token=retired)
            assert status < 300, (operation, text)
        events = http.get(f"{SESSIONS}/{own['id']}/events", headers=WRITE).json()["items"]
        assert events[0]["event_type"] == "intruder"  # the append went through
        unlisted = _resigned(append_token, UNLISTED_SECRET)
        response = http.get(
            f"{SESSIONS}/{own['id']}", headers={"Authorization": f"Bearer {unlisted}"}
        )
        assert (response.status_code, response.json()["detail"]) == (401, FORGED)


def test_a_token_put_where_it_does_not_belong_is_never_repeated(server):
    """In a query string (as a value or a name), in the path, in a parameter's value, as an API
    key: refused, and neither the error nor the log repeats it."""
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        own = _session(http)
        token = own["tokens"][1]["token"]
        events = f"{SESSIONS}/{own['id']}/events"
        for url, headers in [
            (f"{events}?access_token={token}", WRITE),
            (f"{events}?since={token}", WRITE),
            (f"{SESSIONS}/{token}", WRITE),
            (f"{SESSIONS}/{token}/events", {"Authorization": f"Bearer {token}"}),
            (events, {"X-API-Key": token}),
            (f"{events}?{token}", WRITE),  # as a parameter's name
            (f"{SESSIONS}/{own['id']}/{token}", WRITE),  # a path that names nothing
            (f"/api/v2/{token}", WRITE),
        ]:
            response = http.get(url, headers=headers)
            assert 400 <= response.status_code < 500, response.text
            assert token not in response.text
            assert token.split(".")[1][:20] not in response.text
    output = server.output()
    assert token.split(".")[1][:20] not in output
