"""A real HTTP server on a real socket that answers each connection to the sessions stream with
the next of a script of bodies, and keeps the requests it was sent.

A stand-in for the server's sessions stream while it is being built: its bodies are the
contract's own example and messages made from the contract's examples, so what the client parses
is what the contract says the server sends. The live tests (test_watch.py) use the real server.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

CONTRACT = Path(__file__).resolve().parents[2] / "openapi" / "events-api.yaml"


def contract() -> dict:
    return yaml.safe_load(CONTRACT.read_text())


def stream_operation() -> dict:
    return contract()["paths"]["/sessions/stream"]["get"]


def example_stream() -> bytes:
    """The contract's example of the sessions stream, as the server would send it."""
    content = stream_operation()["responses"]["200"]["content"]
    return content["text/event-stream"]["example"].encode()


def example_session(**changed) -> dict:
    """The contract's example Session (from the snapshot of its stream example), changed."""
    for block in example_stream().decode().split("\n\n"):
        if "event: snapshot" in block:
            data = block.split("data: ", 1)[1]
            return {**json.loads(data)["items"][0], **changed}
    raise AssertionError("the contract's stream example has no snapshot")


def message(id: str, event: str, data: dict) -> bytes:
    return f"id: {id}\nevent: {event}\ndata: {json.dumps(data)}\n\n".encode()


class Answer:
    """One connection's answer: a status, a body, and whether to hold the stream open after it
    (until the server stops) rather than end it."""

    def __init__(self, body: bytes, status: int = 200, hold: bool = False):
        self.status, self.body, self.hold = status, body, hold


class ScriptedStream:
    """Serves the answers in turn, the last one again once they ran out."""

    def __init__(self, answers: list[Answer]):
        self.answers = answers
        self.requests: list[tuple[str, dict[str, str]]] = []  # path with query, headers
        self.stopping = threading.Event()
        script = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                script.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                answer = script.answers[min(len(script.requests), len(script.answers)) - 1]
                problem = answer.status != 200
                self.send_response(answer.status)
                self.send_header(
                    "Content-Type", "application/problem+json" if problem else "text/event-stream"
                )
                self.send_header("Content-Length" if problem else "Cache-Control",
                                 str(len(answer.body)) if problem else "no-cache")  # fmt: skip
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(answer.body)
                self.wfile.flush()
                if answer.hold:
                    script.stopping.wait(30)
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> ScriptedStream:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
