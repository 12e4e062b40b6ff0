"""A real HTTP server on a real socket that answers every operation the client makes with the
contract's own examples, answers its writes with an `Events-Position` the test chooses, and keeps
the requests it was sent (method, path with query, headers).

A stand-in for a server that reads from replicas: the live server sends no position until
replicas are configured. An append answers the position named by its first event's `message`,
and, when that event's `event_data` names another position as `after`, only once a read came in
after that one was answered (so the client had it), so a test can have writes finish out of
order for certain. Every other write answers `position` (None: no header).
"""

from __future__ import annotations

import functools
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.client.scripted_stream import contract

SESSION = r"/api/v2/sessions/[^/?]+"


@functools.cache
def examples() -> dict[tuple[str, str], object]:
    """The contract's example of each operation's success, by method and route template."""
    found = {}
    for path, operations in contract()["paths"].items():
        for method, operation in operations.items():
            answers = operation.get("responses", {}) if isinstance(operation, dict) else {}
            for status, answer in answers.items():
                for media, content in (answer.get("content") or {}).items():
                    if str(status).startswith("2") and "example" in content:
                        found[(method.upper(), path, media)] = content["example"]
    return found


def token_example() -> dict:
    schemas = contract()["components"]["schemas"]
    token = {name: field.get("example") for name, field in schemas["Token"]["properties"].items()}
    return {**token, "scope": "read", "expires_at": schemas["Timestamp"]["example"]}


class ScriptedApi:
    def __init__(self, statuses: tuple[str, ...] = ("in_progress", "completed")):
        self.examples = examples()
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.position: str | None = None
        self.statuses = list(statuses)  # a session's status, read after read, the last repeated
        self.read_after: dict[str, threading.Event] = {}  # by position: a read came after it
        self.order: list[str] = []  # the positions answered, in the order they were
        self.lock = threading.Lock()
        script = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                script.serve(self)

            do_POST = do_PATCH = do_DELETE = do_GET

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def reads(self, path: str = "") -> list[tuple[str, dict[str, str]]]:
        """The GET requests whose path (with query) starts with `path`, in order."""
        return [(p, h) for m, p, h in self.requests if m == "GET" and p.startswith(path)]

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        method, path = handler.command, handler.path
        headers = {k.lower(): v for k, v in handler.headers.items()}
        length = int(headers.get("content-length") or 0)
        body = json.loads(handler.rfile.read(length)) if length else None
        with self.lock:
            self.requests.append((method, path, headers))
            for answered in self.order if method == "GET" else []:
                self.read_after.setdefault(answered, threading.Event()).set()
        status, media, content, position, extra = self.answer(method, path, headers, body)
        handler.send_response(status)
        if position is not None:
            handler.send_header("Events-Position", position)
        for name, value in extra.items():
            handler.send_header(name, value)
        handler.send_header("Content-Type", media)
        handler.send_header("Content-Length", str(len(content)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(content)
        handler.wfile.flush()
        handler.close_connection = True
        if position is not None:
            with self.lock:
                self.order.append(position)

    def answer(self, method, path, headers, body):
        route = path.split("?")[0]
        stream = "text/event-stream"
        if method == "GET" and route.endswith("/stream"):
            template = "/sessions/stream" if route == "/api/v2/sessions/stream" else None
            template = template or "/sessions/{session_id}/events/stream"
            return 200, stream, self.example("GET", template, stream).encode(), None, {}
        if method == "GET":
            return self.read(path, route, headers)
        if method == "POST" and re.fullmatch(f"{SESSION}/events", route):
            first = body["events"][0]
            after = (first.get("event_data") or {}).get("after")
            if after is not None:
                with self.lock:
                    read = self.read_after.setdefault(after, threading.Event())
                read.wait(10)  # only catches a hang: the test reads right after the other append
            return (
                201,
                *self.json("POST", "/sessions/{session_id}/events"),
                first.get("message"),
                {},
            )
        if method == "DELETE":
            return 204, "application/json", b"", self.position, {}
        if method == "PATCH":
            session = self.json("GET", "/sessions/{session_id}", status=body["status"])
            return 200, *session, self.position, {}
        if route.endswith("/tokens"):
            return 201, "application/json", json.dumps(token_example()).encode(), self.position, {}
        return 201, *self.json("POST", "/sessions"), self.position, {}

    def read(self, path, route, headers):
        if route == "/api/v2/sessions":
            return 200, *self.json("GET", "/sessions"), None, {}
        if re.fullmatch(SESSION, route):
            with self.lock:
                status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            session = self.json("GET", "/sessions/{session_id}", status=status, event_count=2)
            return 200, *session, None, {}
        ndjson = "application/x-ndjson"
        if ndjson in headers.get("accept", ""):
            events = self.example("GET", "/sessions/{session_id}/events", ndjson)
            return 200, ndjson, events.encode(), None, {}
        # a first page links a second, as a walk of the listing follows
        link = {} if "page=2" in path else {"Link": f'<{route}?page=2>; rel="next"'}
        return 200, *self.json("GET", "/sessions/{session_id}/events"), None, link

    def json(self, method: str, template: str, **changed) -> tuple[str, bytes]:
        document = {**self.example(method, template, "application/json"), **changed}
        return "application/json", json.dumps(document).encode()

    def example(self, method: str, template: str, media: str):
        return self.examples[(method, template, media)]

    def __enter__(self) -> ScriptedApi:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc) -> None:
        self.server.shutdown()
        self.server.server_close()
