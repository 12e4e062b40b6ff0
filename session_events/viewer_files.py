"""GET /viewer/: the live session viewer, static files shipped in the package (no key); and
the entrances, / and /api/v2/, which lead to it and to the API's page.

The page is a client of the public API like any other: every piece of data it shows comes from
/api/v2 with the key the user typed. This middleware only hands out the page's own files from
`session_events/viewer/` through Starlette's StaticFiles (ETag, Last-Modified, 304, HEAD);
anything else under /viewer/ is a 404.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from session_events.problems import READ_ONLY, not_allowed, problem_json

PREFIX = "/viewer"
PROBLEM = "application/problem+json"
ROUTE = "/viewer/{file}"  # the access log's and the metrics' label for every file of the page
# The page only talks to its own origin and never runs inline code: a payload that slipped
# through the page's escaping still could not run.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-cache"),
]


def entrances(api_base: str) -> dict[str, str]:
    """Where a person typing the server's address, or the API's, is sent: the viewer and the
    API's own page (`api_base` is the contract's, /api/v2)."""
    return {"/": PREFIX + "/", api_base: f"{api_base}/ui/", f"{api_base}/": f"{api_base}/ui/"}


class ViewerFiles:
    """/ and /api/v2/ lead to the viewer and the API's page; /viewer redirects to /viewer/
    (keeping the query), which is index.html; /viewer/<name> is one of the files; only GET and
    HEAD."""

    def __init__(self, app, *, api_base: str):
        self.app = app
        self.entrances = entrances(api_base)
        self.files = StaticFiles(packages=[("session_events", "viewer")], html=True)

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path in self.entrances and scope["method"] in READ_ONLY:
            scope.setdefault("extensions", {})["route"] = f"{scope['method']} {path}"
            # Under the prefix a proxy serves the app at, as the viewer's own links are.
            where = scope.get("root_path", "") + self.entrances[path]
            return await RedirectResponse(where, 302)(scope, receive, send)
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return await self.app(scope, receive, send)
        # Read by the access log, which labels everything else by the contract's operations.
        scope.setdefault("extensions", {})["route"] = f"{scope['method']} {ROUTE}"

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        if path == PREFIX:
            query = scope.get("query_string", b"").decode("latin-1")
            location = PREFIX + "/" + (f"?{query}" if query else "")
            response = RedirectResponse(location, status_code=308)
            return await response(scope, receive, send_with_headers)
        # As Starlette's Mount does: the files see the path below the prefix.
        files_scope = {**scope, "root_path": scope.get("root_path", "") + PREFIX}
        try:
            await self.files(files_scope, receive, send_with_headers)
        except HTTPException as error:  # StaticFiles' 404 and 405, outside any exception handler
            detail = (
                f"The viewer has no file {path}; open {PREFIX}/."
                if error.status_code == 404
                else not_allowed(scope["method"], READ_ONLY)
            )
            body = problem_json(error.status_code, detail)
            response = Response(body, error.status_code, error.headers, PROBLEM)
            await response(scope, receive, send_with_headers)
