"""A live server on the test's database, and a Client with the write key, for the client tests."""

from __future__ import annotations

import pytest
from session_events_client import Client

from support.live_server import WRITE_KEY


@pytest.fixture
def server(live_server):
    return live_server()


@pytest.fixture
def client(server):
    with Client(server.base_url, api_key=WRITE_KEY) as client:
        yield client
