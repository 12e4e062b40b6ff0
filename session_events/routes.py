"""Facts about the routes, read from the contract: labels for the access log, methods for Allow."""

from __future__ import annotations

import re

from session_events.contract import load_contract

# The keys of an OpenAPI path item that are operations.
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class Routes:
    def __init__(self, spec: dict | None = None):
        spec = spec or load_contract()
        base = spec["servers"][0]["url"]
        self.base_path = base  # /api/v2
        self.templates: dict[str, str] = {}  # operationId -> "GET /api/v2/sessions/{session_id}"
        self.consumes: dict[str, list[str]] = {}  # operationId -> its request body's media types
        self._methods: list[tuple[re.Pattern, list[str]]] = []
        self.methods: list[str] = []  # every method the contract uses, for CORS preflights
        for path, item in spec["paths"].items():
            methods = [m.upper() for m in HTTP_METHODS if m in item]
            self.methods += [m for m in methods if m not in self.methods]
            for method in methods:
                operation = item[method.lower()]
                self.templates[operation["operationId"]] = f"{method} {base}{path}"
                content = operation.get("requestBody", {}).get("content", {})
                self.consumes[operation["operationId"]] = list(content)
            if "GET" in methods and "HEAD" not in methods:
                methods.append("HEAD")  # served by Starlette for every GET route
            parts = re.split(r"(\{[^/]+?\})", base + path)
            pattern = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
            self._methods.append((re.compile(pattern), sorted(methods)))

    def allowed_methods(self, path: str) -> list[str]:
        for pattern, methods in self._methods:
            if pattern.fullmatch(path):
                return methods
        return []
