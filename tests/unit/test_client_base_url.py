"""Both clients (and so the command) take the server's root or the API's as their base URL."""

from __future__ import annotations

import pytest
from session_events_client import AsyncClient, Client
from session_events_client.client import server_root


@pytest.mark.parametrize(
    "given",
    [
        "http://host:8000",
        "http://host:8000/",
        "http://host:8000/api/v2",
        "http://host:8000/api/v2/",
    ],
)
def test_the_api_path_and_a_trailing_slash_are_dropped(given):
    assert server_root(given) == "http://host:8000"


def test_a_prefix_before_the_api_is_kept():
    assert server_root("https://proxy.example/events/api/v2") == "https://proxy.example/events"
    assert server_root("https://proxy.example/xapi/v2") == "https://proxy.example/xapi/v2"


def test_both_clients_send_to_the_same_place():
    for kind in (Client, AsyncClient):
        client = kind("http://host:8000/api/v2")
        request = client.http.build_request("GET", "/api/v2/sessions")
        assert str(request.url) == "http://host:8000/api/v2/sessions"
