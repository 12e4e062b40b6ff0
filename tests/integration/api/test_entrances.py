"""A person who types the server's address, or the API's, is led to a page, not a 404."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("path", "page", "shows"),
    [("/", "/viewer/", "<title>"), ("/api/v2/", "/api/v2/ui/", "swagger-ui")],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_the_entrances_lead_to_the_viewer_and_the_apis_page(client, method, path, page, shows):
    response = client.request(method, path, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (302, page)
    landed = client.get(page)
    assert landed.status_code == 200
    assert shows in landed.text


def test_the_api_without_its_slash_leads_to_its_page_too(client):
    response = client.get("/api/v2", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (302, "/api/v2/ui/")


def test_an_entrance_is_not_a_place_to_send_anything(client):
    response = client.post("/", json={})
    assert response.status_code in (404, 405)
    assert response.headers["content-type"] == "application/problem+json"
