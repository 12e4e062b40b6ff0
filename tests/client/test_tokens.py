"""Session tokens through the client and its command, against live servers on both databases:
a token does what its scope allows on its own session and is refused (403) everywhere else, a
revoked or expired one is AuthExpired, a stream read with one ends when it does, and the command
prints a token only where minting it is its job."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from session_events_client import AsyncClient, AuthExpired, Client, Refused, Token

from support.live_server import WRITE_KEY

COMMAND = str(Path(sys.executable).parent / "session-events-client")


def refused_403(call, *args, **kwargs) -> Refused:
    with pytest.raises(Refused) as refused:
        call(*args, **kwargs)
    assert type(refused.value) is Refused, refused.value  # not AuthExpired: the token is good
    assert refused.value.status == 403, refused.value
    return refused.value


def test_an_append_token_works_on_its_own_session_and_is_refused_elsewhere(server, client):
    made = client.create_session("build", tokens=["append"])
    (token,) = made.tokens
    assert (token.scope, token.session_id) == ("append", made.id)
    other = client.create_session("build")
    with Client(server.base_url, token=token.token) as job:
        job.update_session(made.id, status="in_progress")
        (stored,) = job.append_events(made.id, [{"event_type": "build_started"}])
        assert stored.seq == 2
        assert [e.seq for e in job.iter_events(made.id, order="asc")] == [1, 2]
        assert job.get_session(made.id).event_count == 2
        refusals = [
            refused_403(job.append_events, other.id, [{"event_type": "log"}]),
            refused_403(job.get_session, other.id),
            refused_403(job.update_session, other.id, status="in_progress"),
            refused_403(job.delete_session, made.id),
            refused_403(job.list_sessions),
            refused_403(job.create_session, "build"),
            refused_403(job.revoke_tokens, made.id),
        ]
    assert all(token.token not in (r.detail + str(r)) for r in refusals)
    assert client.get_session(other.id).event_count == 0  # nothing the refusals touched changed
    assert client.get_session(made.id).event_count == 2
    assert client.list_sessions().pagination.total == 2


def test_a_read_token_reads_and_mints_read_tokens_but_cannot_append(server, client):
    made = client.create_session("build")
    client.append_events(made.id, [{"event_type": "log"}])
    token = client.create_token(made.id, "read", ttl_seconds=600)
    assert isinstance(token, Token) and token.scope == "read"
    with Client(server.base_url, token=token.token) as reader:
        assert [e.event_type for e in reader.iter_events(made.id)] == ["log"]
        refused_403(reader.append_events, made.id, [{"event_type": "log"}])
        refused_403(reader.update_session, made.id, status="in_progress")
        refused_403(reader.create_token, made.id, "append")
        shorter = reader.create_token(made.id, "read")  # no longer than its own life
        assert shorter.expires_at <= token.expires_at
    assert client.get_session(made.id).event_count == 1


def test_a_revoked_token_is_auth_expired_one_by_one_or_all_at_once(server, client):
    made = client.create_session("build", tokens=["append", "read"])
    appender, reader = made.tokens
    assert [t.scope for t in made.tokens] == ["append", "read"]
    client.revoke_token(made.id, appender.id)
    client.revoke_token(made.id, appender.id)  # again: nothing changes, no error
    with Client(server.base_url, token=appender.token) as job:
        with pytest.raises(AuthExpired, match="revoked") as ended:
            job.append_events(made.id, [{"event_type": "log"}])
        assert ended.value.status == 401 and appender.token not in str(ended.value)
    with Client(server.base_url, token=reader.token) as viewer:
        assert viewer.get_session(made.id).id == made.id
        client.revoke_tokens(made.id)
        with pytest.raises(AuthExpired, match="revoked"):
            viewer.get_session(made.id)
    assert client.get_session(made.id).event_count == 0


async def test_the_async_client_mints_and_acts_with_tokens(server):
    async with AsyncClient(server.base_url, api_key=WRITE_KEY) as client:
        made = await client.create_session("build", tokens=["append"])
        read = await client.create_token(made.id)
        async with AsyncClient(server.base_url, token=made.tokens[0].token) as job:
            await job.append_events(made.id, [{"event_type": "log"}])
        async with AsyncClient(server.base_url, token=read.token) as reader:
            assert (await reader.get_session(made.id)).event_count == 1
            with pytest.raises(Refused) as refused:
                await reader.append_events(made.id, [{"event_type": "log"}])
            assert refused.value.status == 403
        await client.revoke_tokens(made.id)


def test_a_stream_read_with_a_token_ends_with_auth_expired_when_the_token_expires(server, client):
    made = client.create_session("build")
    client.append_events(made.id, [{"event_type": "log"}])
    token = client.create_token(made.id, "read", ttl_seconds=3)  # long enough to open the stream
    seqs, ended = [], []

    def view() -> None:
        with Client(server.base_url, token=token.token) as viewer:
            try:
                for event in viewer.follow(made.id):
                    seqs.append(event.seq)
            except Exception as error:  # what ended it, to look at below
                ended.append(error)

    # In a thread, so that a client that kept waiting fails the test rather than hang the suite.
    viewing = threading.Thread(target=view, daemon=True)
    viewing.start()
    viewing.join(timeout=60)
    assert not viewing.is_alive(), "the stream went on after its token expired"
    assert seqs == [1]  # what there was, then the end of access, not a wait for more
    (error,) = ended
    assert isinstance(error, AuthExpired) and error.status == 401
    assert "expired" in error.detail
    assert error.response is None  # the stream's auth_expired, not a 401 to opening it again


def cli(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([COMMAND, *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def env(server):
    bare = {k: v for k, v in os.environ.items() if k not in ("EVENTS_API_KEY", "EVENTS_TOKEN")}
    return {**bare, "EVENTS_URL": server.base_url}


def test_create_token_for_append_prints_a_token_that_works_and_only_on_its_session(env, client):
    made = cli({**env, "EVENTS_API_KEY": WRITE_KEY}, "create", "--type", "build",
               "--token-for", "append")  # fmt: skip
    assert made.returncode == 0, made.stderr
    session_id, token = made.stdout.splitlines()
    assert f"Minted an append token of session {session_id}" in made.stderr
    assert token not in made.stderr
    job = {**env, "EVENTS_TOKEN": token}
    emitted = cli(job, "emit", session_id, "--type", "build_started")
    assert (emitted.returncode, emitted.stderr) == (0, f"Stored event 1 in session {session_id}.\n")
    shown = cli(env, "get", session_id, "--json", "--token", token)
    assert shown.returncode == 0, shown.stderr
    other = client.create_session("build")
    for args in (["get", str(other.id)], ["delete", session_id], ["list"]):
        refused = cli(job, *args)
        assert refused.returncode == 1, args
        assert token not in refused.stdout + refused.stderr
    assert client.get_session(session_id).event_count == 1


def test_token_and_revoke_commands_and_a_tail_ended_by_the_revocation(env, client):
    writer = {**env, "EVENTS_API_KEY": WRITE_KEY}
    session_id = cli(writer, "create", "--type", "build").stdout.strip()
    client.append_events(session_id, [{"event_type": "log"}])
    minted = cli(writer, "token", session_id, "--json")
    assert minted.returncode == 0, minted.stderr
    token = Token.model_validate_json(minted.stdout)
    assert token.scope == "read" and token.token not in minted.stderr
    tail = subprocess.Popen([COMMAND, "tail", session_id], env={**env, "EVENTS_TOKEN": token.token},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    first = tail.stdout.readline()
    assert first.split()[2:4] == ["1", "log"]
    revoked = cli(writer, "revoke", session_id, "--id", str(token.id))
    assert (revoked.returncode, revoked.stderr) == (
        0, f"Revoked token {token.id} of session {session_id}.\n"
    )  # fmt: skip
    try:
        rest, err = tail.communicate(timeout=30)
    finally:
        tail.kill()  # if it kept waiting
    assert tail.returncode == 1
    assert "revoked" in err and "Mint a new token" in err
    assert token.token not in first + rest + err
    refused = cli({**env, "EVENTS_TOKEN": token.token}, "get", session_id)
    assert refused.returncode == 1 and "revoked" in refused.stderr
    assert cli(writer, "revoke", session_id, "--all").returncode == 0
