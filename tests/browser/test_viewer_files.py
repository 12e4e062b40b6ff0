"""The viewer's own files: every one served as its type with the page's headers, the ES modules
loading without a build step, and the statuses the page calls terminal being the server's."""

from __future__ import annotations

import re
from importlib.resources import files

from session_events.contract import load_contract
from session_events.db.sessions import TERMINAL
from tests.browser.page import Viewer

VIEWER = files("session_events") / "viewer"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",  # what a <script type="module"> insists on
    ".css": "text/css; charset=utf-8",
}
# The module as the page loads it (the browser's own import, not a reading of its text).
TERMINAL_JS = """
const done = arguments[0];
import(new URL("statuses.js", document.baseURI).href)
  .then((module) => done([...module.TERMINAL_STATUSES]))
  .catch((error) => done(String(error)));
"""


def viewer_files() -> list[str]:
    return sorted(entry.name for entry in VIEWER.iterdir() if entry.is_file())


def test_the_page_is_static_files_served_without_a_key(viewer_server, api):
    redirect = api.get("/viewer?session=x")
    assert (redirect.status_code, redirect.headers["location"]) == (308, "/viewer/?session=x")
    names = viewer_files()
    assert {"index.html", "viewer.js", "viewer.css"} <= set(names)
    for name in ["", *names]:
        path = f"/viewer/{name}"
        response = api.get(path)
        suffix = "." + (name or "index.html").rsplit(".", 1)[-1]
        assert (response.status_code, response.headers["content-type"]) == (
            200,
            CONTENT_TYPES[suffix],
        ), path
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-content-type-options"] == "nosniff"
        again = api.get(path, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304, path
    assert "<script" not in api.get("/viewer/").text.replace('<script type="module" src=', "")
    assert api.get("/viewer/../pyproject.toml").status_code == 404
    assert api.get("/viewer/nothing.js").status_code == 404
    assert api.post("/viewer/").status_code == 405
    assert re.search(
        r'testboost_api_requests_total\{endpoint="/viewer/\{file\}",method="GET",status="200"\}',
        api.get("/metrics").text,
    )


def test_the_page_loads_every_module_and_nothing_from_elsewhere(browser, viewer_server):
    viewer = Viewer(browser, viewer_server.base_url)
    browser.get_log("browser")  # what earlier tests left in the log
    viewer.open()
    viewer.wait(lambda: not viewer.element("key-set").get_attribute("hidden"), what="the key")
    modules = [name for name in viewer_files() if name.endswith(".js")]
    # The page itself loaded every module there is (none is dead weight), and nothing failed.
    fetched = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert set(modules) <= {url.rsplit("/", 1)[-1] for url in fetched}
    logged = browser.get_log("browser")
    assert not [e for e in logged if e["level"] == "SEVERE" and "/viewer/" in e["message"]]
    for name in modules:  # no CDN, no build step: the page's own files, by relative paths
        source = (VIEWER / name).read_text()
        for imported in re.findall(r'\bfrom\s+"([^"]+)"', source):
            assert imported.removeprefix("./") in modules, f"{name} imports {imported}"


def test_the_pages_terminal_statuses_are_the_servers(browser, viewer_server):
    """statuses.js and db/sessions.py both read SessionStatus' x-next-statuses from the contract
    (the page from the one the server serves), so a status it makes terminal reaches both."""
    Viewer(browser, viewer_server.base_url).open()
    assert sorted(browser.execute_async_script(TERMINAL_JS)) == sorted(TERMINAL)
    statuses = load_contract()["components"]["schemas"]["SessionStatus"]["enum"]
    assert set(TERMINAL) < set(statuses)
