"""GET /viewer/: the live session viewer, static files shipped in the package (no key).

The page is a client of the public API like any other: every piece of data it shows comes from
/api/v2 with the key the user typed. This middleware only hands out the page's own files, read
once at start-up from `session_events/viewer/`; anything else under /viewer/ is a 404.
"""

from __future__ import annotations

import hashlib
import re
from importlib import resources

CONTENT_TYPES = {
    ".html": b"text/html; charset=utf-8",
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
    ".png": b"image/png",
}
PREFIX = "/viewer"
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
_NAME = re.compile(r"[a-z0-9_-]+\.[a-z]+")


def load_files() -> dict[str, tuple[bytes, bytes, bytes]]:
    """name -> (body, content type, ETag) of every file of the page."""
    files = {}
    for entry in (resources.files("session_events") / "viewer").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and _NAME.fullmatch(entry.name) and suffix in CONTENT_TYPES:
            body = entry.read_bytes()
            tag = b'"%s"' % hashlib.sha256(body).hexdigest()[:32].encode()
            files[entry.name] = (body, CONTENT_TYPES[suffix], tag)
    return files


class ViewerFiles:
    """/viewer redirects to /viewer/, which is index.html; /viewer/<name> is one of the files."""

    def __init__(self, app):
        self.app = app
        self.files = load_files()

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return await self.app(scope, receive, send)
        # Read by the access log, which labels everything else by the contract's operations.
        scope.setdefault("extensions", {})["route"] = f"{scope['method']} {ROUTE}"
        if scope["method"] not in ("GET", "HEAD"):
            return await _plain(send, 405, b"Method Not Allowed", [(b"allow", b"GET, HEAD")])
        if path == PREFIX:
            query = scope.get("query_string", b"")
            location = PREFIX.encode() + b"/" + (b"?" + query if query else b"")
            return await _plain(send, 308, b"", [(b"location", location)])
        name = path[len(PREFIX) + 1 :] or "index.html"
        if name not in self.files:
            return await _plain(send, 404, b"Not Found")
        body, content_type, tag = self.files[name]
        headers = [(b"content-type", content_type), (b"etag", tag), *SECURITY_HEADERS]
        if tag in _header(scope, b"if-none-match"):
            return await _respond(send, 304, b"", headers)
        headers.append((b"content-length", str(len(body)).encode()))
        await _respond(send, 200, b"" if scope["method"] == "HEAD" else body, headers)


def _header(scope, name: bytes) -> bytes:
    return b",".join(value for key, value in scope["headers"] if key == name)


async def _plain(send, status: int, body: bytes, headers=()) -> None:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await _respond(send, status, body, headers)


async def _respond(send, status: int, body: bytes, headers) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
