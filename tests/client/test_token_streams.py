"""A session token on the client's side, over a real socket: sent as `Authorization: Bearer`, a
stream that ends with `event: auth_expired` raising AuthExpired (never opened again), a 401 or
403 not retried, and the token kept out of everything the client and its command say. The
answers come from a scripted server (scripted_stream.py); test_tokens.py runs the real one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from session_events_client import AsyncClient, AuthExpired, Client, Refused

from tests.client.scripted_stream import Answer, ScriptedStream, contract

COMMAND = str(Path(sys.executable).parent / "session-events-client")
SESSION_ID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"  # the contract's example session
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJzY3JpcHRlZCJ9.c2NyaXB0ZWQtc2lnbmF0dXJl"
REVOKED = "This token was revoked; ask for a new one."


def stream_example_event(**changed) -> dict:
    """The contract's example of an event stream message's data, changed."""
    message = contract()["components"]["schemas"]["StreamMessage"]["properties"]["data"]
    return {**json.loads(message["example"]), **changed}


def event_message(seq: int, event_type: str = "log") -> bytes:
    data = stream_example_event(seq=seq, event_type=event_type)
    return f"id: {seq}\nevent: {event_type}\ndata: {json.dumps(data)}\n\n".encode()


def problem(status: int, detail: str) -> dict:
    title = {401: "Unauthorized", 403: "Forbidden"}[status]
    return {"type": "about:blank", "title": title, "status": status, "detail": detail}


def ended_by_revocation() -> list[Answer]:
    """Two events (the second of the event_type auth_expired, which is an event like any other),
    then the server's auth_expired message, then the end of the stream."""
    last = f"event: auth_expired\ndata: {json.dumps(problem(401, REVOKED))}\n\n".encode()
    body = b"retry: 3000\n\n" + event_message(1) + event_message(2, "auth_expired") + last
    return [Answer(body)]


def test_a_stream_ended_by_auth_expired_raises_it_after_its_events_and_is_not_reopened():
    seqs = []
    with (
        ScriptedStream(ended_by_revocation()) as server,
        Client(server.base_url, token=TOKEN) as client,
        pytest.raises(AuthExpired) as ended,
    ):
        for event in client.follow(SESSION_ID):
            seqs.append((event.seq, event.event_type))
    assert seqs == [(1, "log"), (2, "auth_expired")]
    assert (ended.value.status, ended.value.detail, ended.value.response) == (401, REVOKED, None)
    assert isinstance(ended.value, Refused)  # caught where any refusal is
    (path, headers), *again = server.requests
    assert again == []  # neither reopened nor asked the session's status
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert "x-api-key" not in headers
    assert TOKEN not in path  # a token never goes in a URL


async def test_the_async_client_ends_the_same_way():
    seqs = []
    with ScriptedStream(ended_by_revocation()) as server:
        async with AsyncClient(server.base_url, token=TOKEN) as client:
            with pytest.raises(AuthExpired, match="revoked"):
                async for event in client.follow(SESSION_ID):
                    seqs.append(event.seq)
    assert seqs == [1, 2]
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "credential", "raised"),
    [
        (401, {"token": TOKEN}, AuthExpired),
        (401, {"api_key": "an-unknown-key"}, Refused),  # a key's 401 is no token's end
        (403, {"token": TOKEN}, Refused),
    ],
)
def test_a_stream_refused_with_401_or_403_is_raised_at_once_not_retried(status, credential, raised):
    detail = f"This token is limited to session {SESSION_ID}: reading it."
    answer = Answer(json.dumps(problem(status, detail)).encode(), status=status)
    with (
        ScriptedStream([answer]) as server,
        Client(server.base_url, **credential) as client,
        pytest.raises(Refused) as refused,
    ):
        list(client.follow(SESSION_ID))
    assert type(refused.value) is raised
    assert (refused.value.status, refused.value.detail) == (status, detail)
    assert len(server.requests) == 1


def test_a_key_and_a_token_together_are_refused_and_no_error_quotes_the_token():
    with pytest.raises(ValueError, match="pass api_key or token, not both") as both:
        Client("http://127.0.0.1:9", api_key="a-key", token=TOKEN)
    assert TOKEN not in str(both.value)
    broken = TOKEN[:20] + "\n" + TOKEN[20:]  # a header httpx would quote whole in its error
    with pytest.raises(ValueError, match="not a session token as the server mints it") as bad:
        AsyncClient("http://127.0.0.1:9", token=broken)
    assert TOKEN[:20] not in str(bad.value) and TOKEN[20:] not in str(bad.value)


def test_a_token_read_from_a_file_with_its_line_break_is_sent_without_it():
    with (
        ScriptedStream(ended_by_revocation()) as server,
        Client(server.base_url, token=TOKEN + "\n") as client,
        pytest.raises(AuthExpired),
    ):
        list(client.follow(SESSION_ID))
    assert server.requests[0][1]["authorization"] == f"Bearer {TOKEN}"


def command(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [COMMAND, *args],
        env={"PATH": str(Path(sys.executable).parent), "TZ": "UTC", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_tail_ends_with_the_servers_detail_and_exit_1_when_the_token_ends():
    with ScriptedStream(ended_by_revocation()) as server:
        tail = command("tail", SESSION_ID, "--url", server.base_url, EVENTS_TOKEN=TOKEN)
    assert tail.returncode == 1
    shown = [line.split()[2:] for line in tail.stdout.splitlines()]
    assert shown == [["1", "log"], ["2", "auth_expired"]]
    assert tail.stderr == (
        f"session-events-client tail: {REVOKED} Mint a new token (`token SESSION_ID`, "
        "with a key) to go on.\n"
    )
    assert len(server.requests) == 1
    assert TOKEN not in tail.stdout + tail.stderr


def refusing() -> ScriptedStream:
    detail = f"This token is limited to session {SESSION_ID}."
    return ScriptedStream([Answer(json.dumps(problem(403, detail)).encode(), status=403)])


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["--token", TOKEN, "tail", SESSION_ID], {"EVENTS_API_KEY": "an-env-key"}),
        (["tail", SESSION_ID, "--token", TOKEN], {"EVENTS_API_KEY": "an-env-key"}),
        (["tail", SESSION_ID], {"EVENTS_TOKEN": TOKEN}),
        (["tail", SESSION_ID], {"EVENTS_TOKEN": TOKEN, "EVENTS_API_KEY": "an-inherited-key"}),
    ],
)
def test_the_command_sends_the_token_of_the_command_line_or_the_environment(args, env):
    with refusing() as server:
        result = command(*args, "--url", server.base_url, **env)
    assert result.returncode == 1
    assert result.stderr.strip().endswith(f"limited to session {SESSION_ID}.")
    headers = server.requests[0][1]
    assert headers["authorization"] == f"Bearer {TOKEN}"  # the token wins over EVENTS_API_KEY
    assert "x-api-key" not in headers
    assert TOKEN not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--key", "a-key", "--token", TOKEN], {}, "--key and --token were both given"),
        (["--token", TOKEN, "--nonsense"], {}, "unrecognized arguments: --nonsense"),
        ([f"--token={TOKEN}", "--key=a-key"], {}, "--key and --token were both given"),
    ],
)
def test_a_key_and_a_token_together_are_a_usage_error_that_never_echoes_the_token(args, env, says):
    with refusing() as server:
        result = command("tail", SESSION_ID, *args, "--url", server.base_url, **env)
    assert result.returncode == 2
    assert says in result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert server.requests == []
